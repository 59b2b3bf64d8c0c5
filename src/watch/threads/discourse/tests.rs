//! Discourse topics recorded from real forums (tests/fixtures/threads/discourse/,
//! provenance in tests/fixtures/threads/SOURCES.md), read unchanged: the brand's
//! account is a username that really replied there.

use super::super::test_support::{fixture, post, replies, time};
use super::super::{first_answer, parse, parse_accounts, target, Bases, Target, Thread};
use crate::post::Post;

const FORUM: &str = "https://discuss.criticalfallibilism.com";
const T2108: &[u8] = fixture!("discourse", "criticalfallibilism_t_2108_452.json");
const T2144: &[u8] = fixture!("discourse", "criticalfallibilism_t_2144_posts.json");
const T57: &[u8] = fixture!("discourse", "try_discourse_t_57_2013.json");

/// Post `number` (`id`) of topic `topic`, by `author`, as the source makes it.
fn mention(id: i64, slug: &str, topic: i64, number: i64, author: &str) -> Post {
    let mut p = post(
        "discourse",
        &format!("discourse:discuss.criticalfallibilism.com:{id}"),
        &format!("{FORUM}/t/{slug}/{topic}/{number}"),
        author,
        "2026-01-01T00:00:00Z",
    );
    p.thread_id = Some(format!("discourse:discuss.criticalfallibilism.com:{topic}"));
    p
}

fn post_445() -> Post {
    let slug = "comments-on-the-boyfriends-introduction-to-feminism";
    mention(20141, slug, 2108, 445, "anonymous117")
}

fn answer_by(m: &Post, body: &[u8], account: &str) -> Option<(String, String, String, u32)> {
    let accounts = parse_accounts(&[account.to_string()]).unwrap();
    let r = replies(m, body);
    first_answer(m, &r, &accounts)
        .map(|r| (r.id.clone(), r.at.to_rfc3339(), r.url.clone(), r.depth))
}

#[test]
fn the_target_is_the_topic_around_the_mentions_post_number() {
    let m = post_445();
    assert_eq!(
        target(&m, &Bases::default()).unwrap(),
        Target::Fetch(format!("{FORUM}/t/2108/445.json").parse().unwrap())
    );
    // the entry's own base_url (a forum in a subfolder, on loopback)
    let mut local = Bases::default();
    local.sources.insert(
        "discourse".into(),
        "http://127.0.0.1:9/forum".parse().unwrap(),
    );
    assert_eq!(
        target(&m, &local).unwrap(),
        Target::Fetch("http://127.0.0.1:9/forum/t/2108/445.json".parse().unwrap())
    );
    let mut bad = m.clone();
    for (id, url) in [
        (
            "discourse:discuss.criticalfallibilism.com:x",
            m.url.as_str(),
        ),
        ("discourse:20141", m.url.as_str()),
        (
            m.id.as_str(),
            "https://discuss.criticalfallibilism.com/latest",
        ),
    ] {
        bad.id = id.into();
        bad.url = url.into();
        bad.thread_id = None;
        assert!(target(&bad, &Bases::default()).is_err(), "{id} {url}");
    }
}

#[test]
fn the_brands_reply_is_found_in_the_real_topic_below_the_mention() {
    let m = post_445();
    let r = replies(&m, T2108);
    let got: Vec<(&str, u32)> = r
        .iter()
        .map(|r| (r.id.rsplit(':').next().unwrap_or(""), r.depth))
        .collect();
    // 446 and 447 answer 445; 448, 449 answer 447; 450 → 448; 451 → 450; 452 → 451
    let want = [
        ("20143", 1),
        ("20144", 1),
        ("20147", 2),
        ("20149", 2),
        ("20165", 3),
        ("20166", 4),
        ("20181", 5),
    ];
    assert_eq!(got, want);
    assert_eq!(r[2].author, "discuss.criticalfallibilism.com/anonymous105");
    assert_eq!(
        answer_by(
            &m,
            T2108,
            "discourse:discuss.criticalfallibilism.com/Anonymous105"
        ),
        Some((
            "discourse:discuss.criticalfallibilism.com:20147".into(),
            time("2026-01-15T16:57:00.078Z").to_rfc3339(),
            format!("{FORUM}/t/comments-on-the-boyfriends-introduction-to-feminism/2108/448"),
            2
        ))
    );
    // Elliot wrote above the mention (435–437), never below it
    assert_eq!(
        answer_by(
            &m,
            T2108,
            "discourse:discuss.criticalfallibilism.com/elliot"
        ),
        None
    );
    // the same username on another forum is another account
    assert_eq!(
        answer_by(&m, T2108, "discourse:forum.acme.com/anonymous105"),
        None
    );
}

#[test]
fn every_later_post_of_a_topic_answers_its_first_post() {
    let m = mention(20089, "kpop-demon-hunters", 2144, 1, "Elliot");
    let r = replies(&m, T2144);
    assert_eq!(r.len(), 19);
    assert_eq!(
        r.iter().map(|r| r.depth).max(),
        Some(5),
        "20 → 19 → 18 → 15 → 4"
    );
    assert_eq!(
        answer_by(&m, T2144, "discourse:discuss.criticalfallibilism.com/dface"),
        Some((
            "discourse:discuss.criticalfallibilism.com:20117".into(),
            time("2026-01-11T04:10:48.855Z").to_rfc3339(),
            format!("{FORUM}/t/kpop-demon-hunters/2144/5"),
            1
        ))
    );
    // the brand's own topic: its later posts are not answers
    assert_eq!(
        answer_by(
            &m,
            T2144,
            "discourse:discuss.criticalfallibilism.com/elliot"
        ),
        None
    );

    // try.discourse.org, 2013: a reply to #1 and two posts below it
    let mut m = post(
        "discourse",
        "discourse:try.discourse.org:83",
        "https://try.discourse.org/t/this-site-is-a-sandbox-it-is-reset-every-day/57/1",
        "samsaffron",
        "2013-02-04T20:26:26Z",
    );
    m.thread_id = Some("discourse:try.discourse.org:57".into());
    let r = replies(&m, T57);
    assert_eq!(r.len(), 3);
    assert!(r.iter().all(|r| r.depth == 1));
    let accounts = parse_accounts(&["discourse:try.discourse.org/splattne".into()]).unwrap();
    let a = first_answer(&m, &r, &accounts).unwrap();
    assert_eq!(
        a.url,
        "https://try.discourse.org/t/this-site-is-a-sandbox-it-is-reset-every-day/57/14"
    );
    assert_eq!(a.at, time("2013-02-05T17:14:17.364Z"));
}

#[test]
fn deleted_topics_and_mentions_are_gone_and_deleted_replies_never_answer() {
    let m = post_445();
    let text = String::from_utf8(T2108.to_vec()).unwrap();
    let topic_deleted = text.replacen(
        "\"deleted_at\":null,\"user_id\"",
        "\"deleted_at\":\"2026-02-01T00:00:00Z\",\"user_id\"",
        1,
    );
    assert_ne!(topic_deleted, text);
    assert_eq!(
        parse(&m, 200, topic_deleted.as_bytes()).unwrap(),
        Thread::Gone
    );
    assert_eq!(parse(&m, 404, b"{}").unwrap(), Thread::Gone);
    // the mention no longer in the topic's stream
    let mut other = m.clone();
    other.id = "discourse:discuss.criticalfallibilism.com:1".into();
    assert_eq!(parse(&other, 200, T2108).unwrap(), Thread::Gone);
    // a reply deleted by its author: listed, never the answer
    let mut v: serde_json::Value = serde_json::from_slice(T2108).unwrap();
    for p in v["post_stream"]["posts"].as_array_mut().unwrap() {
        if p["id"] == 20147 {
            p["user_deleted"] = true.into();
        }
    }
    let body = serde_json::to_vec(&v).unwrap();
    assert!(replies(&m, &body).iter().any(|r| r.deleted));
    let a = answer_by(
        &m,
        &body,
        "discourse:discuss.criticalfallibilism.com/anonymous105",
    );
    assert_eq!(
        a.map(|a| a.0),
        Some("discourse:discuss.criticalfallibilism.com:20149".into())
    );
}

#[test]
fn hostile_bodies_are_errors_or_clean_replies_never_a_panic() {
    let m = post_445();
    // cut off mid-way
    assert!(parse(&m, 200, &T2108[..T2108.len() / 2]).is_err());
    assert!(parse(&m, 200, b"<html>oops</html>").is_err());
    assert!(parse(&m, 200, b"{}").is_err(), "no post_stream");
    assert!(parse(&m, 500, b"down").is_err());
    // HTML in every field, and a reply chain 20,000 posts deep
    let mut posts = vec![serde_json::json!({"id": 20141, "post_number": 445})];
    for n in 446..20_446 {
        posts.push(serde_json::json!({"id": n + 100_000, "post_number": n,
            "reply_to_post_number": n - 1, "username": "<b>Acme</b>", "created_at": "<script>",
            "topic_slug": "<i>x</i>", "post_type": "<p>"}));
    }
    let body = serde_json::json!({"slug": "a/../b", "post_stream": {"posts": posts}});
    // a field of the wrong type is a malformed response
    assert!(parse(&m, 200, body.to_string().as_bytes()).is_err());
    for p in posts.iter_mut().skip(1) {
        p["post_type"] = 1.into();
        p["created_at"] = serde_json::Value::Null;
    }
    let body = serde_json::json!({"slug": "a/../b", "post_stream": {"posts": posts}});
    let r = replies(&m, body.to_string().as_bytes());
    assert_eq!(r.len(), 20_000);
    assert_eq!(r[19_999].depth, 20_000);
    assert_eq!(r[0].author, "discuss.criticalfallibilism.com/<b>acme</b>");
    assert_eq!(r[0].at, m.created_at, "no time of its own: the mention's");
}
