//! `overhear poll SOURCE --once` against a feed on loopback.

use std::process::Command;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FEED: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>https://news.example/1</guid><link>https://news.example/1</link><title>Acme widgets recalled</title>
<description>&lt;p&gt;Customers of &lt;b&gt;Acme Corp&lt;/b&gt; are unhappy&lt;/p&gt;</description><pubDate>Mon, 02 Jan 2023 10:00:00 GMT</pubDate></item>
<item><guid>https://news.example/2</guid><link>https://news.example/2</link><title>Weather</title>
<description>Sunny</description><pubDate>Mon, 02 Jan 2023 11:00:00 GMT</pubDate></item>
</channel></rss>"#;

fn poll(config: &std::path::Path, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("--config")
        .arg(config)
        .args(["poll", "news", "--once"])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_once_prints_json_lines_and_commits_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_string(FEED),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("overhear.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"{}\"\n\n[[brand]]\nname = \"Acme\"\nquery = 'acme'\n\n[[source]]\nkind = \"rss\"\nname = \"news\"\nurl = \"{}/feed\"\n",
            dir.path().join("data").display(),
            server.uri()
        ),
    )
    .unwrap();

    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let c = config.clone();
        move || poll(&c, &[])
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["id"], "rss:https://news.example/1");
    assert_eq!(lines[0]["url"], "https://news.example/1");
    assert_eq!(lines[0]["title"], "Acme widgets recalled");
    assert_eq!(lines[0]["text"], "Customers of Acme Corp are unhappy");
    assert_eq!(lines[0]["source"], "rss");
    assert_eq!(lines[0]["created_at"], "2023-01-02T10:00:00Z");

    // --all-brands skips matching; and the first run saved no cursor: same posts again
    let (ok, stdout, _) = tokio::task::spawn_blocking({
        let c = config.clone();
        move || poll(&c, &["--all-brands"])
    })
    .await
    .unwrap();
    assert!(ok);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        !dir.path().join("data").exists(),
        "poll --once stores nothing"
    );

    // an unknown source names the ones there are
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("--config")
        .arg(&config)
        .args(["poll", "nope", "--once"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the config has: news"));
}

/// `poll NAME --once` must search with the terms the daemon would send: the brand
/// queries' positive terms, not the brand names.
#[tokio::test(flavor = "multi_thread")]
async fn poll_once_searches_with_the_daemons_terms() {
    let server = MockServer::start().await;
    let empty =
        serde_json::json!({"hits": [], "nbHits": 0, "page": 0, "nbPages": 0, "hitsPerPage": 100});
    Mock::given(method("GET"))
        .and(path("/search_by_date"))
        .respond_with(ResponseTemplate::new(200).set_body_json(empty))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("overhear.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"{}\"\n\n[[brand]]\nname = \"Acme\"\nquery = '\"acme corp\" OR acmecorp'\n\n[[source]]\nkind = \"hackernews\"\nname = \"news\"\nbase_url = \"{}\"\n",
            dir.path().join("data").display(),
            server.uri()
        ),
    )
    .unwrap();
    let (ok, _, stderr) = tokio::task::spawn_blocking({
        let c = config.clone();
        move || poll(&c, &[])
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "query")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    // the daemon's terms (Matcher::all_search_terms of the same config)
    let brands = overhear::config::Config::parse(&std::fs::read_to_string(&config).unwrap(), "t")
        .unwrap()
        .brands;
    let want = overhear::matcher::Matcher::compile(&brands)
        .unwrap()
        .all_search_terms();
    assert!(!want.is_empty());
    let mut asked_sorted = asked.clone();
    asked_sorted.sort();
    asked_sorted.dedup();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(asked_sorted, want_sorted, "poll asked {asked:?}");
}
