//! The forum's real `/posts.json` (tests/fixtures/feeds/discourse/, provenance in its
//! SOURCES.md) read as posts, and the category lookup.

use super::*;

const POSTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/feeds/discourse/criticalfallibilism_posts.json"
));

fn base() -> Url {
    Url::parse("https://discuss.criticalfallibilism.com").unwrap()
}

fn posts(body: &[u8]) -> Vec<Post> {
    let latest: Latest = serde_json::from_slice(body).unwrap();
    latest
        .latest_posts
        .into_iter()
        .map(|p| post(&base(), "discuss.criticalfallibilism.com", "forum", p))
        .collect()
}

#[test]
fn the_real_posts_json_reads_as_posts_with_the_cooked_html_stripped() {
    let all = posts(POSTS);
    assert_eq!(all.len(), 50);
    let reply = all
        .iter()
        .find(|p| p.id == "discourse:discuss.criticalfallibilism.com:20217")
        .unwrap();
    assert_eq!(
        reply.url,
        "https://discuss.criticalfallibilism.com/t/kpop-demon-hunters/2144/31"
    );
    assert_eq!(reply.author.as_deref(), Some("ActiveMind"));
    assert_eq!(
        reply.thread_id.as_deref(),
        Some("discourse:discuss.criticalfallibilism.com:2144")
    );
    assert_eq!(reply.site, "discuss.criticalfallibilism.com");
    assert_eq!(reply.title, None, "a reply carries no topic title");
    assert_eq!(
        reply.created_at.to_rfc3339(),
        "2026-01-21T22:40:40.329+00:00"
    );
    assert!(reply.text.contains("WTL is 443 pages"), "{}", reply.text);
    for p in &all {
        assert!(
            !p.text.contains("<aside") && !p.text.contains("<p>"),
            "{}",
            p.id
        );
        assert!(!p.text.contains("&amp;"), "{}", p.id);
    }
    let first = all
        .iter()
        .find(|p| p.id == "discourse:discuss.criticalfallibilism.com:20218")
        .unwrap();
    assert_eq!(first.title.as_deref(), Some("People Being Bad at Logic"));
    assert!(first.text.contains("X&Y can be more likely than X&!Y"));
}

#[test]
fn emoji_non_latin_text_and_missing_fields_read_cleanly() {
    // a post written for this test: only the id is present, then emoji and Japanese
    let body = br#"{"latest_posts":[{"id":7},{"id":8,"post_number":2,"topic_id":3,
        "topic_slug":"../x","cooked":"<p>\u65e5\u672c\u8a9e\u306e\u30b5\u30dd\u30fc\u30c8 <img src=\"/images/emoji/twitter/rofl.png?v=12\" title=\":rofl:\" class=\"emoji\" alt=\":rofl:\"> \ud83d\ude42 &amp; more</p>"}]}"#;
    let all = posts(body);
    assert_eq!(all[0].url, "https://discuss.criticalfallibilism.com/t/0/1");
    assert!(all[0].created_at_is_first_seen);
    assert_eq!(all[0].author, None);
    assert_eq!(all[0].text, "");
    assert_eq!(
        all[1].url, "https://discuss.criticalfallibilism.com/t/3/2",
        "an unsafe slug is left out"
    );
    assert!(
        all[1].text.starts_with("日本語のサポート"),
        "{}",
        all[1].text
    );
    assert!(all[1].text.contains("🙂 & more"), "{}", all[1].text);
}

#[test]
fn categories_resolve_by_slug_or_id_with_their_subcategories() {
    let list: Categories = serde_json::from_str(
        r#"{"category_list":{"categories":[
            {"id":5,"slug":"support","subcategory_ids":[9]},
            {"id":6,"slug":"meta","subcategory_list":[{"id":11,"slug":"bugs"}]}]}}"#,
    )
    .unwrap();
    let cats = &list.category_list.categories;
    let ids = resolve_categories(&["Support".into(), "11".into()], cats).unwrap();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec![5, 9, 11]);
    let ids = resolve_categories(&["meta".into()], cats).unwrap();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec![6, 11]);
    let e = resolve_categories(&["nope".into()], cats).unwrap_err();
    assert!(e.to_string().contains("\"nope\""), "{e}");
}
