//! The dev.to parsers on the recorded listings and comments
//! (`tests/fixtures/feeds/devto/`, provenance in its SOURCES.md) and edited copies.

use url::Url;

use super::{article_post, comment_posts, Article, Comment};

macro_rules! feed {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/feeds/devto/",
            $name
        ))
        .as_slice()
    };
}

fn base() -> Url {
    Url::parse("https://dev.to").unwrap()
}

#[test]
fn the_latest_articles_are_posts_with_their_author_and_url() {
    let list: Vec<Article> =
        serde_json::from_slice(feed!("devto-client_get_api-articles-latest.body.json")).unwrap();
    assert_eq!(list.len(), 30);
    let posts: Vec<_> = list
        .iter()
        .map(|a| article_post(a, &base(), "dev"))
        .collect();
    let p = &posts[0];
    assert_eq!(p.id, "devto:4166738");
    assert_eq!(p.url, "https://dev.to/chethanblgs99/from-logprintf-to-trace-context-what-i-learned-debugging-a-go-checkout-service-with-opentelemetry-1nlh");
    assert_eq!(p.author.as_deref(), Some("chethanblgs99"));
    assert!(p.title.as_deref().unwrap().starts_with("From log.Printf"));
    assert!(
        p.text.starts_with("The error was easy to create."),
        "{}",
        p.text
    );
    assert_eq!(p.created_at.to_rfc3339(), "2026-07-17T13:10:36+00:00");
    assert_eq!((p.site.as_str(), p.lang.as_deref()), ("dev.to", Some("en")));
    assert_eq!(p.source, "devto");
    let dash = posts.iter().find(|p| p.id == "devto:4166986").unwrap();
    assert_eq!(
        dash.title.as_deref(),
        Some("Drawing Board — Free Online Tool")
    );
}

#[test]
fn comments_are_posts_in_their_articles_thread() {
    let tree: Vec<Comment> =
        serde_json::from_slice(feed!("devto-client_get_api-comments.body.json")).unwrap();
    let posts = comment_posts(&tree, 4160121, &base(), "dev");
    let ids: Vec<_> = posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["devto:c/3bba8", "devto:c/3bbkn", "devto:c/3bc6f"]);
    let c = &posts[1];
    assert_eq!(c.url, "https://dev.to/nazar-boyko/comment/3bbkn");
    assert_eq!(c.thread_id.as_deref(), Some("devto:4160121"));
    assert_eq!(c.parent_id.as_deref(), Some("devto:4160121"));
    assert!(c.text.contains("jobs -p"), "{}", c.text);
    assert!(!c.text.contains("<code>"));
    assert_eq!(c.created_at.to_rfc3339(), "2026-07-17T05:21:21+00:00");
}

/// The recorded comments nested (the second a reply to the first, the third to the
/// second): replies follow their parent, `parent_id` is the parent comment.
#[test]
fn a_comment_tree_is_flattened_parents_first() {
    let mut v: serde_json::Value =
        serde_json::from_slice(feed!("devto-client_get_api-comments.body.json")).unwrap();
    let mut all = v.as_array_mut().unwrap().clone();
    let third = all.pop().unwrap();
    let mut second = all.pop().unwrap();
    second["children"] = serde_json::json!([third]);
    all[0]["children"] = serde_json::json!([second]);
    let tree: Vec<Comment> = serde_json::from_value(serde_json::Value::Array(all)).unwrap();
    let posts = comment_posts(&tree, 4160121, &base(), "dev");
    let got: Vec<_> = posts
        .iter()
        .map(|p| (p.id.as_str(), p.parent_id.as_deref().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("devto:c/3bba8", "devto:4160121"),
            ("devto:c/3bbkn", "devto:c/3bba8"),
            ("devto:c/3bc6f", "devto:c/3bbkn"),
        ]
    );
}

#[test]
fn hostile_fields_give_clean_text_and_unsafe_names_are_dropped() {
    let a: Article = serde_json::from_str(
        r#"{"id":1,"title":"<b>Acme</b> &amp; co","description":"<script>x()</script><p>hi <a href=\"https://e.test/\">there</a></p>",
            "url":"javascript:alert(1)","published_at":"not a date","language":"<i>",
            "user":{"username":"../../etc"}}"#,
    )
    .unwrap();
    let p = article_post(&a, &base(), "dev");
    assert_eq!(p.title.as_deref(), Some("Acme & co"));
    assert_eq!(p.text, "hi there");
    assert_eq!(p.url, "https://dev.to/1");
    assert_eq!((p.author.clone(), p.lang.clone()), (None, None));
    assert!(p.created_at_is_first_seen);

    let tree: Vec<Comment> = serde_json::from_str(
        r#"[{"id_code":"a/b","body_html":"<p>x</p>","user":{"username":"eve"}},
            {"id_code":"ok1","body_html":"<p>[deleted]</p>","children":[
              {"id_code":"ok2","body_html":"<img src=x onerror=alert(1)><p>fine</p>","user":{"username":"bob"}}]}]"#,
    )
    .unwrap();
    let posts = comment_posts(&tree, 9, &base(), "dev");
    assert_eq!(posts.len(), 1, "a bad id and a deleted comment are skipped");
    assert_eq!(
        (posts[0].id.as_str(), posts[0].text.as_str()),
        ("devto:c/ok2", "fine")
    );
    assert_eq!(posts[0].parent_id.as_deref(), Some("devto:c/ok1"));
}
