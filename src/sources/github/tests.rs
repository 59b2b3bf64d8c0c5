//! GitHub's real search responses (tests/fixtures/feeds/github/, provenance in its
//! SOURCES.md) read as posts; the query, the comment stripping and the quota window.

use std::sync::Arc;

use super::*;
use crate::sources::{HttpSettings, MemoryState};

const GITHUB3: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/feeds/github/github3py_search_issues_q-github3-label-Bug_2017-12-20.json"
));
const PYGITHUB_2014: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/feeds/github/pygithub_search_issues_q-compile-language-cpp_sort-comments_2014-03-03.json"
));

fn posts(body: &[u8]) -> Vec<Post> {
    let page: SearchPage = serde_json::from_slice(body).unwrap();
    page.items
        .into_iter()
        .filter_map(|i| post("gh", i))
        .collect()
}

fn source(toml: &str) -> GitHub {
    let cfg: GitHubConfig = toml::from_str(toml).unwrap();
    let ctx = SourceContext::new(
        "test",
        Duration::from_secs(60),
        vec!["acme".into()],
        Arc::new(MemoryState::default()),
        HttpSettings::default(),
    )
    .unwrap();
    GitHub::new(&cfg, &ctx, "gh").unwrap()
}

#[test]
fn the_real_2017_search_reads_as_issue_posts() {
    let all = posts(GITHUB3);
    assert_eq!(all.len(), 57);
    let i = all
        .iter()
        .find(|p| p.id == "github:sigmavirus24/github3.py#187")
        .unwrap();
    assert_eq!(
        i.url,
        "https://github.com/sigmavirus24/github3.py/issues/187"
    );
    assert_eq!(i.author.as_deref(), Some("sigmavirus24"));
    assert_eq!(i.site, "github.com/sigmavirus24/github3.py");
    assert_eq!(i.created_at.to_rfc3339(), "2014-01-08T00:05:55+00:00");
    assert!(i.title.as_deref().is_some_and(|t| !t.is_empty()));
    // the same issue number in two repositories is two posts
    assert!(all.iter().any(|p| p.id == "github:PyCQA/pylint#724"));
    assert!(all
        .iter()
        .any(|p| p.id == "github:pylint-bot/pylint-unofficial#724"));
    assert!(all
        .iter()
        .all(|p| p.source == "github" && p.source_name == "gh"));
}

#[test]
fn the_2014_schema_without_repository_url_names_the_repository_from_its_urls() {
    let all = posts(PYGITHUB_2014);
    assert_eq!(all.len(), 30);
    let pr = all
        .iter()
        .find(|p| p.id == "github:hrydgard/ppsspp#997")
        .unwrap();
    assert_eq!(pr.url, "https://github.com/hrydgard/ppsspp/pull/997");
    assert_eq!(pr.site, "github.com/hrydgard/ppsspp");
}

#[test]
fn missing_fields_hostile_urls_and_template_comments() {
    let body = br#"{"items":[
        {"number": 1},
        {"title": "no number", "html_url": "https://github.com/a/b/issues/x"},
        {"number": 2, "repository_url": "https://api.github.com/repos/a%2F..%2Fc/b", "html_url": "javascript:alert(1)"},
        {"number": 3, "repository_url": "https://api.github.com/repos/acme/sdk", "html_url": "not a url",
         "title": " <b>Acme</b> ", "user": null,
         "body": "<!-- Please fill in the template -->\nAcme SDK crashes, see https://acme.example/x. and (https://acme.example/y)\n<!-- unclosed"}
    ]}"#;
    let all = posts(body);
    assert_eq!(all.len(), 1, "{all:?}");
    let p = &all[0];
    assert_eq!(p.id, "github:acme/sdk#3");
    assert_eq!(p.url, "https://github.com/acme/sdk/issues/3");
    assert_eq!(p.author, None);
    assert_eq!(p.title.as_deref(), Some("<b>Acme</b>"));
    assert_eq!(
        p.text,
        "Acme SDK crashes, see https://acme.example/x. and (https://acme.example/y)"
    );
    assert_eq!(
        p.links,
        vec!["https://acme.example/x", "https://acme.example/y"]
    );
    assert!(p.created_at_is_first_seen);
}

#[test]
fn the_query_quotes_phrases_narrows_to_repos_and_bounds_the_time() {
    let s = source("repos = [\"acme/sdk\", \"/acme/cli/\"]\n");
    assert_eq!(
        s.q("acme corp", Some(1_700_000_000), None),
        "\"acme corp\" repo:acme/sdk repo:acme/cli created:>=2023-11-14T22:13:20+00:00"
    );
    assert_eq!(
        s.q("acme", Some(0), Some(60)),
        "acme repo:acme/sdk repo:acme/cli created:1970-01-01T00:00:00+00:00..1970-01-01T00:01:00+00:00"
    );
    let cfg: GitHubConfig = toml::from_str("repos = [\"acme\"]\n").unwrap();
    let ctx = SourceContext::new(
        "test",
        Duration::from_secs(60),
        vec!["acme".into()],
        Arc::new(MemoryState::default()),
        HttpSettings::default(),
    )
    .unwrap();
    assert!(GitHub::new(&cfg, &ctx, "gh").is_err(), "OWNER/NAME only");
}

#[test]
fn the_quota_window_allows_ten_requests_a_minute_without_a_token() {
    let mut s = source("");
    assert_eq!(s.quota, QUOTA_ANONYMOUS);
    let t0 = 1_700_000_000_000;
    for i in 0..QUOTA_ANONYMOUS as i64 {
        assert!(s.take_quota(t0 + i * 1000).is_ok());
    }
    // the first went out 10 s ago: 50 s to wait
    assert_eq!(s.take_quota(t0 + 10_000), Err(Duration::from_secs(50)));
    // a minute after the first there is room for one
    assert!(s.take_quota(t0 + 60_000).is_ok());
    assert!(s.take_quota(t0 + 60_500).is_err());
    // a clock set back a day forgets what it cannot place
    assert!(s.take_quota(t0 - 86_400_000).is_ok());
    assert_eq!(s.sent.len(), 1);
    let s = source("token_env = \"PATH\"\n");
    assert_eq!(s.quota, QUOTA_TOKEN);
}

#[test]
fn request_times_merge_without_losing_ones_that_share_a_millisecond() {
    assert_eq!(
        merge_sent(&[5, 1, 1, 3], &[1, 1, 3, 7]),
        vec![1, 1, 3, 5, 7]
    );
    assert_eq!(merge_sent(&[], &[2, 2]), vec![2, 2]);
    assert_eq!(merge_sent(&[2, 2, 2], &[2]), vec![2, 2, 2]);
}
