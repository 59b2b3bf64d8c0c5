use serde_json::{json, Value};

use super::super::test_support::{fixture, post, replies};
use super::super::{first_answer, parse, parse_accounts, target, Bases, Target, Thread};
use crate::post::Post;

/// `GET /api/v3/comment/list` of post 180 on test1.lemmy.ddenis.info, recorded: one
/// comment (`path` `0.501`) by seed_mod1.
const LIST: &[u8] = fixture!("lemmy", "lemmykit_getCommentsResponseV3.json");
const HOST: &str = "test1.lemmy.ddenis.info";

fn mention(id: &str) -> Post {
    post(
        "lemmy",
        &format!("lemmy:{HOST}:{id}"),
        &format!("https://{HOST}/{id}"),
        "someone@lemmy.world",
        "2026-06-12T23:37:46Z",
    )
}

/// The recorded comment, and copies of it: 502 answering it (by acme@lemmy.world),
/// 503 answering 502, 504 a second top-level comment, deleted.
fn tree() -> Vec<u8> {
    let v: Value = serde_json::from_slice(LIST).unwrap();
    let real = v["comments"][0].clone();
    let copy = |id: i64, path: &str, creator: Option<(&str, &str)>, deleted: bool| {
        let mut c = real.clone();
        c["comment"]["id"] = id.into();
        c["comment"]["path"] = path.into();
        c["comment"]["ap_id"] = format!("https://{HOST}/comment/{id}").into();
        c["comment"]["published"] = format!("2026-06-13T00:00:0{}.000000Z", id - 500).into();
        c["comment"]["deleted"] = deleted.into();
        if let Some((name, actor)) = creator {
            c["creator"]["name"] = name.into();
            c["creator"]["actor_id"] = actor.into();
        }
        c
    };
    let all = json!({"comments": [
        real,
        copy(502, "0.501.502", Some(("Acme", "https://lemmy.world/u/Acme")), false),
        copy(503, "0.501.502.503", None, false),
        copy(504, "0.504", None, true),
    ]});
    serde_json::to_vec(&all).unwrap()
}

fn depths(m: &Post, body: &[u8]) -> Vec<(String, u32, bool)> {
    replies(m, body)
        .into_iter()
        .map(|r| (r.id, r.depth, r.deleted))
        .collect()
}

#[test]
fn targets_ask_the_polled_instance_for_a_posts_comments_or_those_below_a_comment() {
    let base: url::Url = "http://127.0.0.1:9".parse().unwrap();
    let mut b = Bases::default();
    b.sources.insert("lemmy".into(), base);
    assert_eq!(
        target(&mention("post/180"), &b).unwrap(),
        Target::Fetch(
            "http://127.0.0.1:9/api/v3/comment/list?post_id=180&sort=Old&max_depth=8&limit=50&type_=All"
                .parse()
                .unwrap()
        )
    );
    // no entry: the origin of the post's URL
    let mut m = mention("comment/501");
    m.source_name = "gone".into();
    assert_eq!(
        target(&m, &b).unwrap(),
        Target::Fetch(
            format!("https://{HOST}/api/v3/comment/list?parent_id=501&sort=Old&max_depth=8&limit=50&type_=All")
                .parse()
                .unwrap()
        )
    );
    // federated: the URL is on the instance it came from, the id is HOST's
    let mut fed = mention("post/180");
    fed.source_name = "gone".into();
    fed.url = "https://lemmy.ml/post/99".into();
    assert_eq!(
        target(&fed, &b).unwrap(),
        Target::Fetch(
            format!("https://{HOST}/api/v3/comment/list?post_id=180&sort=Old&max_depth=8&limit=50&type_=All")
                .parse()
                .unwrap()
        )
    );
    for bad in [
        "lemmy:h:post/x",
        "lemmy:h:user/1",
        "lemmy:post/1",
        "lemmy:a/b:post/1",
    ] {
        let mut p = mention("post/1");
        p.id = bad.into();
        assert!(target(&p, &b).is_err(), "{bad}");
    }
}

#[test]
fn the_recorded_comment_is_a_reply_and_the_brands_answer() {
    let m = mention("post/180");
    let r = replies(&m, LIST);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].id, format!("lemmy:{HOST}:comment/501"));
    assert_eq!(r[0].author, format!("seed_mod1@{HOST}"));
    assert_eq!(r[0].url, format!("https://{HOST}/comment/501"));
    assert_eq!(r[0].at.to_rfc3339(), "2026-06-12T23:39:00+00:00");
    assert_eq!(r[0].depth, 1);
    let brand = parse_accounts(&[format!("lemmy:Seed_Mod1@{HOST}")]).unwrap();
    assert_eq!(first_answer(&m, &r, &brand).unwrap().id, r[0].id);
    let other = parse_accounts(&["lemmy:acme@lemmy.world".to_string()]).unwrap();
    assert_eq!(first_answer(&m, &r, &other), None);
}

#[test]
fn depth_comes_from_the_path_below_the_mention() {
    let body = tree();
    let id = |n: i64| format!("lemmy:{HOST}:comment/{n}");
    assert_eq!(
        depths(&mention("post/180"), &body),
        [
            (id(501), 1, false),
            (id(502), 2, false),
            (id(503), 3, false),
            (id(504), 1, true)
        ]
    );
    // below comment 501 only: 504 is elsewhere in the post
    let below = mention("comment/501");
    assert_eq!(
        depths(&below, &body),
        [(id(502), 1, false), (id(503), 2, false)]
    );
    let brand = parse_accounts(&["lemmy:acme@lemmy.world".to_string()]).unwrap();
    let r = replies(&below, &body);
    let a = first_answer(&below, &r, &brand).unwrap();
    assert_eq!(
        (a.id.as_str(), a.author.as_str()),
        (id(502).as_str(), "acme@lemmy.world")
    );
}

#[test]
fn deleted_mentions_and_lemmys_not_found_are_gone() {
    assert_eq!(
        parse(&mention("comment/504"), 200, &tree()).unwrap(),
        Thread::Gone
    );
    assert_eq!(
        parse(&mention("post/9"), 400, br#"{"error":"couldnt_find_post"}"#).unwrap(),
        Thread::Gone
    );
    assert_eq!(parse(&mention("post/9"), 404, b"").unwrap(), Thread::Gone);
    assert!(parse(&mention("post/9"), 400, br#"{"error":"rate_limit_error"}"#).is_err());
}

#[test]
fn hostile_bodies_are_errors_or_inert_never_panics() {
    let m = mention("post/180");
    assert!(parse(&m, 200, &LIST[..LIST.len() / 2]).is_err());
    assert!(parse(&m, 200, b"<html></html>").is_err());
    let hostile = br#"{"comments":[
        {"comment":{"id":7,"path":"<b>.7","published":"<i>","ap_id":"javascript:alert(1)"},
         "creator":{"name":"<script>","actor_id":"https://h.test/u/x"}},
        {"comment":{"id":8,"path":"0.9"}},
        {"comment":{"id":10,"path":"0.10.10.10.10.10.10.10.10.10.10.10"}}]}"#;
    let r = replies(&m, hostile);
    assert_eq!(
        r.len(),
        2,
        "a path not ending in the comment's id is skipped"
    );
    assert_eq!(r[0].author, "");
    assert_eq!(r[0].url, m.url);
    assert_eq!(r[0].at, m.created_at);
}
