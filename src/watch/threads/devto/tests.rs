use super::super::test_support::{fixture, post, replies};
use super::super::{first_answer, parse, parse_accounts, target, Bases, Target, Thread};
use crate::post::Post;

/// `GET https://dev.to/api/comments?a_id=4160121`, recorded (three top-level comments).
const COMMENTS: &[u8] = fixture!("devto", "devto-client_get_api-comments.body.json");
const ARTICLE_URL: &str = "https://dev.to/someone/claude-might-be-saturating-your-machine";

fn article() -> Post {
    post(
        "devto",
        "devto:4160121",
        ARTICLE_URL,
        "someone",
        "2026-07-16T10:00:00Z",
    )
}

fn comment(code: &str, thread: Option<&str>) -> Post {
    let mut p = post(
        "devto",
        &format!("devto:c/{code}"),
        &format!("https://dev.to/sam_tech_e3c30d03221da839/comment/{code}"),
        "sam_tech_e3c30d03221da839",
        "2026-07-16T19:20:56Z",
    );
    p.thread_id = thread.map(str::to_string);
    p
}

/// The recorded comments nested: the second a reply to the first, the third to the
/// second.
fn nested() -> Vec<u8> {
    let mut all: Vec<serde_json::Value> = serde_json::from_slice(COMMENTS).unwrap();
    let third = all.pop().unwrap();
    let mut second = all.pop().unwrap();
    second["children"] = serde_json::json!([third]);
    all[0]["children"] = serde_json::json!([second]);
    serde_json::to_vec(&all).unwrap()
}

fn fetch(url: &str) -> Target {
    Target::Fetch(url.parse().unwrap())
}

#[test]
fn targets_are_the_articles_comments_or_the_comments_own() {
    let b = Bases::default();
    assert_eq!(
        target(&article(), &b).unwrap(),
        fetch("https://dev.to/api/comments?a_id=4160121")
    );
    assert_eq!(
        target(&comment("3bba8", Some("devto:4160121")), &b).unwrap(),
        fetch("https://dev.to/api/comments?a_id=4160121")
    );
    assert_eq!(
        target(&comment("3bba8", None), &b).unwrap(),
        fetch("https://dev.to/api/comments/3bba8")
    );
    let local = Bases {
        devto: "http://127.0.0.1:9/forem".parse().unwrap(),
        ..Bases::default()
    };
    assert_eq!(
        target(&article(), &local).unwrap(),
        fetch("http://127.0.0.1:9/forem/api/comments?a_id=4160121")
    );
    for bad in ["devto:", "devto:12a", "devto:c/../x", "devto:c/"] {
        let mut p = article();
        p.id = bad.into();
        assert!(target(&p, &b).is_err(), "{bad}");
    }
}

#[test]
fn the_recorded_comments_are_replies_of_depth_one() {
    let r = replies(&article(), COMMENTS);
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.id.as_str(), r.author.as_str(), r.depth, r.deleted))
        .collect();
    assert_eq!(
        got,
        [
            ("devto:c/3bba8", "sam_tech_e3c30d03221da839", 1, false),
            ("devto:c/3bbkn", "nazar-boyko", 1, false),
            ("devto:c/3bc6f", "mateo_ruiz_6992b1fce47843", 1, false),
        ]
    );
    assert_eq!(r[1].url, "https://dev.to/nazar-boyko/comment/3bbkn");
    assert_eq!(r[1].at.to_rfc3339(), "2026-07-17T05:21:21+00:00");
}

#[test]
fn the_brands_reply_is_found_and_no_reply_is_none() {
    let r = replies(&article(), COMMENTS);
    let brand = parse_accounts(&["devto:Nazar-Boyko".to_string()]).unwrap();
    let found = first_answer(&article(), &r, &brand).unwrap();
    assert_eq!(found.id, "devto:c/3bbkn");
    let other = parse_accounts(&["devto:acme".to_string()]).unwrap();
    assert_eq!(first_answer(&article(), &r, &other), None);
}

/// In a tree, depth counts from the mention; a comment mention's replies are the
/// comments below it only.
#[test]
fn a_comment_tree_gives_depths_below_the_mention() {
    let body = nested();
    let depths: Vec<_> = replies(&article(), &body)
        .into_iter()
        .map(|r| (r.id, r.depth))
        .collect();
    assert_eq!(
        depths,
        [
            ("devto:c/3bba8".to_string(), 1),
            ("devto:c/3bbkn".to_string(), 2),
            ("devto:c/3bc6f".to_string(), 3),
        ]
    );
    let below: Vec<_> = replies(&comment("3bba8", Some("devto:4160121")), &body)
        .into_iter()
        .map(|r| (r.id, r.depth))
        .collect();
    assert_eq!(
        below,
        [
            ("devto:c/3bbkn".to_string(), 1),
            ("devto:c/3bc6f".to_string(), 2)
        ]
    );
    // /api/comments/ID_CODE: the comment itself with its descendants
    let all: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    let one = serde_json::to_vec(&all[0]).unwrap();
    let r = replies(&comment("3bba8", None), &one);
    assert_eq!(r.len(), 2);
    let brand = parse_accounts(&["devto:mateo_ruiz_6992b1fce47843".to_string()]).unwrap();
    let m = comment("3bba8", None);
    assert_eq!(first_answer(&m, &r, &brand).unwrap().depth, 2);
}

#[test]
fn deleted_and_missing_mentions_are_gone() {
    let mut all: Vec<serde_json::Value> = serde_json::from_slice(COMMENTS).unwrap();
    assert_eq!(
        parse(&comment("zzzzz", Some("devto:4160121")), 200, COMMENTS).unwrap(),
        Thread::Gone
    );
    all[0]["body_html"] = "<p>[deleted]</p>".into();
    all[0]["user"] = serde_json::Value::Null;
    let body = serde_json::to_vec(&all).unwrap();
    assert_eq!(
        parse(&comment("3bba8", Some("devto:4160121")), 200, &body).unwrap(),
        Thread::Gone
    );
    // on the article the deleted comment is a deleted reply, never an answer
    let r = replies(&article(), &body);
    assert!(r[0].deleted && r[0].author.is_empty());
    assert_eq!(parse(&article(), 404, b"{}").unwrap(), Thread::Gone);
}

#[test]
fn errors_and_hostile_bodies_are_errors_never_panics() {
    assert!(parse(&article(), 500, b"oops").is_err());
    assert!(parse(&article(), 200, &COMMENTS[..COMMENTS.len() / 2]).is_err());
    assert!(parse(&article(), 200, b"<html>hi</html>").is_err());
    // a single comment for an article mention is not its thread
    assert!(parse(&article(), 200, br#"{"id_code":"a"}"#).is_err());
    // nesting past serde's recursion limit
    let deep = "{\"id_code\":\"a\",\"children\":[".repeat(5000) + &"]}".repeat(5000);
    assert!(parse(&article(), 200, format!("[{deep}]").as_bytes()).is_err());
    let hostile = br#"[{"id_code":"<b>","body_html":"<script>","user":{"username":"<i>x</i>"},
        "children":[{"id_code":"ok","created_at":"<b>","user":{"username":"../x"}}]}]"#;
    let r = replies(&article(), hostile);
    assert_eq!(r.len(), 1, "an id that is not plain is skipped");
    assert_eq!((r[0].author.as_str(), r[0].depth), ("", 2));
    assert_eq!(r[0].at, article().created_at);
}
