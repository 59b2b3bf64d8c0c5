use std::time::Duration;

use super::super::test_support::{answer, fixture, post, replies, time};
use super::super::{parse, server_wait, target, Bases, Target, Thread};
use super::site_key;
use crate::post::Post;

const QUESTION: &str = "https://stackoverflow.com/questions/77000001/acme-sdk-crashes-on-startup";

fn question() -> Post {
    post(
        "stackexchange",
        "stackexchange:stackoverflow:77000001",
        QUESTION,
        "jdoe",
        "2023-11-14T22:13:20Z",
    )
}

/// Stack Exchange mentions are questions only (the source searches questions): no
/// comment mention to target.
#[test]
fn the_target_is_the_questions_timeline() {
    assert_eq!(
        target(&question(), &Bases::default()).unwrap(),
        Target::Fetch(
            "https://api.stackexchange.com/2.3/questions/77000001/timeline?site=stackoverflow&pagesize=100"
                .parse()
                .unwrap()
        )
    );
    let mut q = question();
    q.id = "stackexchange:unix.stackexchange.com:4242".into();
    let local = Bases {
        stackexchange: "http://127.0.0.1:8080/2.3".parse().unwrap(),
        ..Bases::default()
    };
    assert_eq!(
        target(&q, &local).unwrap(),
        Target::Fetch(
            "http://127.0.0.1:8080/2.3/questions/4242/timeline?site=unix.stackexchange.com&pagesize=100"
                .parse()
                .unwrap()
        )
    );
    for bad in [
        "stackexchange:77000001",
        "stackexchange:stackoverflow:a1",
        "stackexchange:so&x=1:5",
    ] {
        q.id = bad.into();
        assert!(target(&q, &local).is_err(), "{bad}");
    }
    assert_eq!(site_key("StackOverflow.com"), "stackoverflow");
    assert_eq!(site_key("unix.stackexchange.com"), "unix");
    assert_eq!(site_key("superuser"), "superuser");
}

#[test]
fn a_question_without_the_brand_is_not_answered_and_edits_are_not_replies() {
    let q = question();
    let body = fixture!("stackexchange", "no_answer.json");
    let r = replies(&q, body);
    let got: Vec<(&str, &str, u32)> = r
        .iter()
        .map(|r| (r.id.as_str(), r.author.as_str(), r.depth))
        .collect();
    assert_eq!(
        got,
        [
            (
                "stackexchange:stackoverflow:comment:136000002",
                "stackoverflow/555",
                2
            ),
            (
                "stackexchange:stackoverflow:77000020",
                "stackoverflow/777",
                1
            ),
            (
                "stackexchange:stackoverflow:comment:136000001",
                "stackoverflow/555",
                1
            ),
        ]
    );
    assert_eq!(r[1].url, "https://stackoverflow.com/a/77000020");
    assert_eq!(r[1].at, time("2023-11-14T22:28:20Z"));
    // the brand edited the question: a revision, not an answer
    assert_eq!(answer(&q, body), None);
    assert_eq!(server_wait(&q, body), Some(Duration::from_secs(10)));
}

#[test]
fn the_brands_comment_on_an_answer_is_the_answer() {
    // two levels is as deep as Stack Exchange goes: a comment on an answer
    let (id, at, url, depth) =
        answer(&question(), fixture!("stackexchange", "answered.json")).unwrap();
    assert_eq!(id, "stackexchange:stackoverflow:comment:136000003");
    assert_eq!(at, time("2023-11-14T23:13:20Z"));
    assert_eq!(url, format!("{QUESTION}#comment136000003_77000020"));
    assert_eq!(depth, 2);
    assert_eq!(
        server_wait(&question(), fixture!("stackexchange", "answered.json")),
        None
    );
}

#[test]
fn the_same_display_name_or_a_close_id_is_not_the_brand() {
    let q = question();
    let body = fixture!("stackexchange", "lookalike.json");
    assert!(replies(&q, body).iter().all(|r| !r.deleted));
    assert_eq!(answer(&q, body), None);
}

#[test]
fn replies_of_deleted_accounts_are_deleted_and_not_answers() {
    let q = question();
    let body = fixture!("stackexchange", "deleted.json");
    let r = replies(&q, body);
    assert_eq!(r.len(), 3);
    assert!(r.iter().all(|r| r.deleted && r.author.is_empty()));
    assert_eq!(answer(&q, body), None);
}

#[test]
fn a_deleted_question_is_gone() {
    let q = question();
    assert_eq!(
        parse(&q, 200, fixture!("stackexchange", "gone.json")).unwrap(),
        Thread::Gone
    );
    assert_eq!(parse(&q, 404, b"").unwrap(), Thread::Gone);
}

#[test]
fn api_errors_and_malformed_bodies_are_clear() {
    let q = question();
    let e = parse(&q, 400, fixture!("stackexchange", "throttled.json")).unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(80_000)));
    assert!(e.to_string().contains("throttle_violation (502)"), "{e}");
    let e = parse(&q, 400, fixture!("stackexchange", "bad_parameter.json")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "stackexchange thread: the API said: bad_parameter (400): site"
    );
    assert_eq!(e.retry_after(), None);
    let e = parse(&q, 200, fixture!("stackexchange", "throttled.json")).unwrap_err();
    assert!(e.retry_after().is_some());
    let e = parse(&q, 503, b"<html>down</html>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "stackexchange thread: HTTP 503: <html>down</html>"
    );
    let e = parse(&q, 200, fixture!("stackexchange", "malformed.json")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("stackexchange thread: malformed response:"),
        "{e}"
    );
    assert!(parse(&q, 200, b"{\"items\": [").is_err());
}

#[test]
fn a_comment_without_a_date_takes_its_answers() {
    let body = br#"{"items": [
        {"timeline_type": "comment", "question_id": 77000001, "post_id": 77000020, "comment_id": 9,
         "user": {"user_id": 12345, "user_type": "registered", "display_name": "Acme Support"}},
        {"timeline_type": "answer", "question_id": 77000001, "post_id": 77000020, "creation_date": 1700000900,
         "owner": {"user_id": 777, "user_type": "registered", "display_name": "helpful"}},
        {"timeline_type": "answer", "question_id": 1, "post_id": 5, "creation_date": 1700000100,
         "owner": {"user_id": 12345, "user_type": "registered", "display_name": "Acme Support"}}
    ], "has_more": false}"#;
    let q = question();
    let r = replies(&q, body);
    assert_eq!(r.len(), 2, "another question's events are skipped: {r:?}");
    assert_eq!(r[0].at, time("2023-11-14T22:28:20Z"));
    assert_eq!(
        answer(&q, body).unwrap().0,
        "stackexchange:stackoverflow:comment:9"
    );
}

#[test]
fn the_same_user_id_on_another_site_is_someone_else() {
    use super::super::{first_answer, Account};
    let q = question();
    let r = replies(&q, fixture!("stackexchange", "answered.json"));
    let elsewhere = [Account::parse("stackexchange:superuser/12345").unwrap()];
    assert_eq!(first_answer(&q, &r, &elsewhere), None);
    let here = [Account::parse("stackexchange:stackoverflow.com/12345").unwrap()];
    assert!(first_answer(&q, &r, &here).is_some());
}
