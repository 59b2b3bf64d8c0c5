//! The Lemmy search parser on the recorded response (`tests/fixtures/feeds/lemmy/`,
//! provenance in its SOURCES.md) and edited copies.

use url::Url;

use super::{lemmy_time, search_posts, Search};

const SEARCH: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/feeds/lemmy/lemmykit_searchResponseV3.json"
));

fn posts(s: Search) -> Vec<crate::post::Post> {
    let base = Url::parse("https://lemmy.example").unwrap();
    search_posts(s, &base, "lemmy.example", "lemmy")
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

#[test]
fn a_search_gives_its_post_and_its_comment() {
    let s: Search = serde_json::from_slice(SEARCH).unwrap();
    let got = posts(s);
    assert_eq!(got.len(), 2);
    let p = &got[0];
    assert_eq!(p.id, "lemmy:lemmy.example:post/180");
    assert_eq!(p.url, "https://test1.lemmy.ddenis.info/post/180");
    assert_eq!(
        p.author.as_deref(),
        Some("seed_mod1@test1.lemmy.ddenis.info")
    );
    assert_eq!(p.title.as_deref(), Some("Live recording (thread 8)"));
    assert_eq!(p.text, "", "the post has no body");
    assert_eq!(p.links, vec!["https://example.com/live"]);
    assert_eq!(p.site, "test1.lemmy.ddenis.info/c/music");
    assert_eq!(p.engagement, Some(1));
    let c = &got[1];
    assert_eq!(c.id, "lemmy:lemmy.example:comment/501");
    assert_eq!(c.url, "https://test1.lemmy.ddenis.info/comment/501");
    assert_eq!(c.text, "Great track, thanks for sharing!");
    assert_eq!(c.thread_id.as_deref(), Some("lemmy:lemmy.example:post/180"));
    assert_eq!(c.parent_id.as_deref(), Some("lemmy:lemmy.example:post/180"));
    assert_eq!(c.created_at.to_rfc3339(), "2026-06-12T23:39:00+00:00");
    assert_eq!(c.engagement, Some(3));
}

/// The recorded comment moved below another (`0.400.501`), its creator on another
/// instance in capitals; deleted and removed items are left out.
#[test]
fn parents_authors_and_deleted_items() {
    let mut v: serde_json::Value = serde_json::from_slice(SEARCH).unwrap();
    v["comments"][0]["comment"]["path"] = "0.400.501".into();
    v["comments"][0]["creator"]["name"] = "Acme".into();
    v["comments"][0]["creator"]["actor_id"] = "https://Lemmy.World/u/Acme".into();
    v["posts"][0]["post"]["deleted"] = true.into();
    let mut removed = v["comments"][0].clone();
    removed["comment"]["id"] = 502.into();
    removed["comment"]["removed"] = true.into();
    v["comments"].as_array_mut().unwrap().push(removed);
    let got = posts(serde_json::from_value(v).unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].parent_id.as_deref(),
        Some("lemmy:lemmy.example:comment/400")
    );
    assert_eq!(got[0].author.as_deref(), Some("acme@lemmy.world"));
}

#[test]
fn times_with_and_without_a_zone() {
    assert_eq!(
        lemmy_time(Some("2023-06-12T23:39:00.123456"))
            .unwrap()
            .to_rfc3339(),
        "2023-06-12T23:39:00.123456+00:00"
    );
    assert_eq!(
        lemmy_time(Some("2026-06-12T23:39:00.000000Z"))
            .unwrap()
            .timestamp(),
        1_781_307_540
    );
    assert_eq!(lemmy_time(Some("yesterday")), None);
}

#[test]
fn html_in_every_field_is_clean_text() {
    let hostile = r#"{"posts":[{"post":{"id":1,"name":"<h1>Acme</h1> &lt;3","body":"<script>x</script>**bold** <a href=\"https://e.test/\">l</a>",
        "url":"javascript:alert(1)","ap_id":"data:text/html,<b>","published":"<i>"},
        "creator":{"name":"<b>x</b>","actor_id":"https://h.test/u/x"},"community":{"actor_id":"javascript:1"}}],
        "comments":[{"comment":{"id":2,"post_id":1,"content":"<img src=x onerror=y>hi","path":"<b>","ap_id":"https://h.test/comment/2"}}]}"#;
    let got = posts(serde_json::from_str(hostile).unwrap());
    let p = &got[0];
    assert_eq!(p.title.as_deref(), Some("Acme <3"));
    assert_eq!(p.text, "**bold** l");
    assert_eq!(p.links, vec!["https://e.test/"]);
    assert_eq!(p.url, "https://lemmy.example/post/1");
    assert_eq!(p.author, None, "a name with markup is no account");
    assert_eq!(p.site, "lemmy.example");
    assert!(p.created_at_is_first_seen);
    assert_eq!(got[1].text, "hi");
    assert_eq!(
        got[1].parent_id.as_deref(),
        Some("lemmy:lemmy.example:post/1")
    );
}
