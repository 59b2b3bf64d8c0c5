//! The thread watch against every source kind's thread, served on loopback from the
//! recorded or documented-shape fixtures in `tests/fixtures/threads/`: one round of
//! [`overhear::watch::round`] with the real HTTP client and store. A thread without
//! the brand's reply stays unanswered and is checked again on the schedule; the
//! brand's reply answers it (the time and URL the parser found, stored on the
//! mention); a lookalike account or a deleted reply does not; a 404 marks the post
//! deleted and stops the watch; a watch past `watch_for` ends.

mod sources_support;
mod watch_support;

use chrono::Utc;
use overhear::post::Post;
use overhear::sources::{Http, HttpSettings};
use overhear::store::watches::WatchState;
use overhear::watch::threads::{self, Bases, Thread};
use overhear::watch::{round, Outcome, Plan};
use sources_support::serve_any_get;
use watch_support::{acme, acme_match, due, fixture, mentions, watched};
use wiremock::{MockServer, ResponseTemplate};

fn plan(server: &MockServer) -> Plan {
    let at = |path: &str| url::Url::parse(&format!("{}{path}", server.uri())).unwrap();
    let mut bases = Bases {
        hackernews: at("/api/v1"),
        reddit: at(""),
        bluesky: at(""),
        lobsters: at(""),
        stackexchange: at("/2.3"),
        ..Bases::default()
    };
    bases.mastodon.insert("mastodon.social".into(), at(""));
    Plan {
        brands: vec![acme()],
        bases,
        hosts: [overhear::watch::run::host_port(&at(""))].into(),
        ..Plan::default()
    }
}

/// One round over `p`'s thread served as (`status`, `body`): the outcome, the
/// mention after it, and the watch left (if any).
async fn check(
    p: &Post,
    status: u16,
    body: Vec<u8>,
) -> (Outcome, overhear::store::StoredMention, Option<WatchState>) {
    let server = MockServer::start().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(status)
            .insert_header("content-type", "application/json")
            .set_body_bytes(body),
    )
    .await;
    let now = Utc::now();
    let (_dir, store, id) = watched(p, now, now + chrono::Duration::hours(1));
    let http = Http::new("overhear-test/1", HttpSettings::default()).unwrap();
    let done = round(&store, &http, &plan(&server), now, 10).await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert!(
        !server.received_requests().await.unwrap().is_empty(),
        "the thread was fetched from loopback"
    );
    let m = store.get_stored(&id).unwrap().unwrap();
    let left = store
        .watches()
        .unwrap()
        .into_iter()
        .next()
        .map(|(_, st)| st);
    (done[0].outcome.clone(), m, left)
}

#[tokio::test]
async fn every_kind_unanswered_answered_lookalike_deleted_and_gone() {
    for p in mentions() {
        let kind = p.source.clone();
        // no answer: checked again on the schedule
        let (o, m, left) = check(&p, 200, fixture(&kind, "no_answer.json")).await;
        assert_eq!(o, Outcome::Unanswered, "{kind}");
        assert!(m.answer.answered_at.is_none(), "{kind}");
        let left = left.unwrap_or_else(|| panic!("{kind}: the watch goes on"));
        assert_eq!(left.attempts, 1, "{kind}");
        assert!(
            left.next_at > Utc::now() + chrono::Duration::seconds(50),
            "{kind}"
        );

        // the brand's reply: what the parser finds is what the mention records
        let body = fixture(&kind, "answered.json");
        let Thread::Replies(replies) = threads::parse(&p, 200, &body).unwrap() else {
            panic!("{kind}: replies");
        };
        let want = threads::first_answer(
            &p,
            &replies,
            &plan(&MockServer::start().await).brands[0].accounts,
        )
        .unwrap_or_else(|| panic!("{kind}: the fixture has the brand's answer"))
        .clone();
        let (o, m, left) = check(&p, 200, body).await;
        assert_eq!(o, Outcome::Answered, "{kind}");
        assert_eq!(m.answer.answered_at, Some(want.at), "{kind}");
        assert_eq!(
            m.answer.answer_url.as_deref(),
            Some(want.url.as_str()),
            "{kind}"
        );
        assert_eq!(
            m.answer.answered_by.as_deref(),
            Some(format!("{kind}:{}", want.author).as_str()),
            "{kind}"
        );
        assert_eq!(m.triage.status, overhear::store::Status::New, "{kind}");
        assert!(left.is_none(), "{kind}: answered, the watch ends");

        // a lookalike account, a deleted reply by the brand: not answers
        for name in ["lookalike.json", "deleted.json"] {
            let (o, m, _) = check(&p, 200, fixture(&kind, name)).await;
            assert_eq!(o, Outcome::Unanswered, "{kind} {name}");
            assert!(m.answer.answered_at.is_none(), "{kind} {name}");
        }

        // the post was deleted: marked so, the watch stops
        let (o, m, left) = check(&p, 404, b"{}".to_vec()).await;
        assert_eq!(o, Outcome::Gone, "{kind}");
        assert!(m.answer.thread_gone_at.is_some(), "{kind}");
        assert!(left.is_none(), "{kind}");
    }
}

#[tokio::test]
async fn a_watch_past_watch_for_ends_without_a_request() {
    let server = MockServer::start().await;
    let now = Utc::now();
    let p = &mentions()[0];
    let (_dir, store, _) = watched(p, now, now - chrono::Duration::seconds(1));
    let http = Http::new("overhear-test/1", HttpSettings::default()).unwrap();
    let done = round(&store, &http, &plan(&server), now, 10).await.unwrap();
    assert_eq!(done[0].outcome, Outcome::Ended);
    assert!(store.watches().unwrap().is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn at_most_per_host_threads_are_read_in_one_round() {
    let server = MockServer::start().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(200).set_body_bytes(fixture("hackernews", "no_answer.json")),
    )
    .await;
    let now = Utc::now();
    let (_dir, store, _) = watched(&mentions()[0], now, now + chrono::Duration::hours(1));
    for n in 0..4 {
        let mut p = mentions()[0].clone();
        p.id = format!("hackernews:{}", 8863100 + n);
        p.url = format!("https://news.ycombinator.com/item?id={}", 8863100 + n);
        let id = store
            .upsert_mention(&p, &[acme_match()], now)
            .unwrap()
            .id()
            .to_string();
        let st = due(now, now + chrono::Duration::hours(1));
        store.watch_start(&[(id, st)]).unwrap();
    }
    let http = Http::new("overhear-test/1", HttpSettings::default()).unwrap();
    let done = round(&store, &http, &plan(&server), now, 2).await.unwrap();
    assert_eq!(done.len(), 2, "two per host per round");
    let later = round(&store, &http, &plan(&server), now, 2).await.unwrap();
    assert_eq!(later.len(), 2, "the next round takes the next two");
}

/// A stored post whose id names a host no configured source polls (a forged result
/// in a cluster can store any id): the watch never connects to it.
#[tokio::test]
async fn the_watch_never_fetches_a_host_no_source_polls() {
    let server = MockServer::start().await;
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = elsewhere.local_addr().unwrap().port();
    elsewhere.set_nonblocking(true).unwrap();
    let mut p = mentions()
        .into_iter()
        .find(|p| p.source == "mastodon")
        .unwrap();
    p.id = format!("mastodon:127.0.0.1:{port}:1");
    p.source_name = "mastodon".into();
    let now = Utc::now();
    let (_dir, store, _id) = watched(&p, now, now + chrono::Duration::hours(1));
    let http = Http::new("overhear-test/1", HttpSettings::default()).unwrap();
    let done = round(&store, &http, &plan(&server), now, 10).await.unwrap();
    let connected = elsewhere.accept().is_ok();
    assert!(
        !connected,
        "the watch connected to 127.0.0.1:{port}, which no source polls: {done:?}"
    );
    assert!(done.is_empty(), "{done:?}");
}
