//! "Did anyone answer?", end to end: a negative Hacker News post alerts; its thread,
//! served on loopback, is watched on the brand's schedule; a lookalike account's
//! reply does not count; once the fixture includes `acme_support`'s reply three
//! levels down, the mention is answered (time, account and URL, a history entry),
//! the watch stops, and `overhear stats --responses` counts it.

mod daemon_support;
mod sources_support;

use std::time::Duration;

use daemon_support::{
    free_port, mentions, start, wait_for, wait_healthy, write_test_config, KeepOnFailure, Setup,
};
use serde_json::{json, Value};
use sources_support::{overhear_ok, serve_get};
use wiremock::{MockServer, ResponseTemplate};

const NEGATIVE: &str =
    "Acme support kept me on hold for three hours and then refused my refund. Awful.";

fn hit(at: i64) -> Value {
    json!({
        "created_at": chrono::DateTime::from_timestamp(at, 0).unwrap().to_rfc3339(),
        "title": null, "url": null, "author": "hn_user", "points": null,
        "story_text": null, "comment_text": NEGATIVE, "num_comments": null,
        "story_id": 9000, "story_title": "Ask HN: vendors you regret", "story_url": null,
        "parent_id": 9000, "created_at_i": at, "_tags": ["comment", "author_hn_user", "story_9000"],
        "objectID": "9001"
    })
}

/// An Algolia item: `id` by `author` at `at`, with `children`.
fn item(id: i64, author: &str, at: i64, parent: i64, children: Vec<Value>) -> Value {
    json!({
        "id": id, "author": author, "created_at_i": at,
        "created_at": chrono::DateTime::from_timestamp(at, 0).unwrap().to_rfc3339(),
        "type": "comment", "text": "<p>…</p>", "title": null, "url": null, "points": null,
        "parent_id": parent, "story_id": 9000, "options": [], "children": children
    })
}

/// The mention's thread: a lookalike's reply, and (when `answered_at`) the brand's
/// reply three levels down.
fn thread(posted: i64, answered_at: Option<i64>) -> Value {
    let deep = match answered_at {
        Some(at) => vec![item(9004, "acme_support", at, 9003, vec![])],
        None => vec![],
    };
    item(
        9001,
        "hn_user",
        posted,
        9000,
        vec![
            item(
                9002,
                "alice",
                posted + 60,
                9001,
                vec![item(9003, "bob", posted + 120, 9002, deep)],
            ),
            item(9005, "acme_support_fan", posted + 30, 9001, vec![]),
        ],
    )
}

async fn serve(server: &MockServer, posted: i64, answered_at: Option<i64>) {
    server.reset().await;
    serve_get(
        server,
        "/hn/search_by_date",
        ResponseTemplate::new(200).set_body_json(json!({
            "hits": [hit(posted)], "nbHits": 1, "page": 0, "nbPages": 1, "hitsPerPage": 100
        })),
    )
    .await;
    serve_get(
        server,
        "/hn/items/9001",
        ResponseTemplate::new(200).set_body_json(thread(posted, answered_at)),
    )
    .await;
}

async fn thread_requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/hn/items/9001")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brands_reply_three_levels_down_answers_the_mention_and_is_counted() {
    let fixtures = MockServer::start().await;
    let posted = chrono::Utc::now().timestamp() - 600;
    serve(&fixtures, posted, None).await;
    let dir = tempfile::tempdir().unwrap();
    let api = free_port();
    let rest = format!(
        "[email]\ntransport = \"file\"\nfrom = \"overhear <alerts@overhear.test>\"\n\n\
         [[brand]]\nname = \"Acme\"\nquery = \"acme\"\nalert_to = [\"support@acme.test\"]\n\
         accounts = [\"hackernews:acme_support\"]\nwatch_for = \"10m\"\nwatch_schedule = [\"1s\"]\n\n\
         [[source]]\nkind = \"hackernews\"\nbase_url = \"{}/hn\"\nevery = \"10s\"\n",
        fixtures.uri()
    );
    let config = write_test_config(dir.path(), api, "", &rest);
    let setup = Setup {
        dir: KeepOnFailure(Some(dir)),
        config,
        api,
    };
    let mut daemon = start(&setup, "daemon.log");
    wait_healthy(api, &mut daemon).await;

    // stored, classified negative, and its thread read again on the schedule
    wait_for("two checks of the thread", Duration::from_secs(120), || {
        futures_lite_block(thread_requests(&fixtures)) >= 2
    })
    .await;
    let m = &mentions(&setup)[0];
    assert_eq!(m["sentiment"]["label"], "negative", "{m:#}");
    assert!(
        m.get("answered_at").is_none(),
        "a lookalike is not the brand: {m:#}"
    );

    // the brand replies, three levels down
    let answered = posted + 1800;
    serve(&fixtures, posted, Some(answered)).await;
    wait_for("the answer", Duration::from_secs(60), || {
        mentions(&setup)[0].get("answered_at").is_some()
    })
    .await;
    let m = &mentions(&setup)[0];
    assert_eq!(
        m["answered_at"]
            .as_str()
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp()),
        Some(answered)
    );
    assert_eq!(m["answered_by"], "hackernews:acme_support");
    assert_eq!(m["answer_url"], "https://news.ycombinator.com/item?id=9004");
    assert_eq!(m["status"], "new", "resolve_when_answered is off");
    let last = m["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["via"], "watch", "{last:#}");
    assert!(last["note"].as_str().unwrap().contains("acme_support"));

    // answered: the watch stops
    let checks = thread_requests(&fixtures).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(thread_requests(&fixtures).await, checks);

    let metrics = setup.api_get("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("overhear_watch_checks_total{")
                && l.contains(r#"outcome="answered""#)
                && l.contains(r#"source="hackernews""#)
                && l.ends_with(" 1")),
        "{metrics}"
    );

    let out = overhear_ok(&["stats", "--responses"], &setup.config);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}");
    let row = text
        .lines()
        .find(|l| l.contains("Acme") && l.contains("hackernews"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("1 (100%)"), "{row}");
    assert!(row.contains("30 min"), "median time to answer: {row}");
    let json = overhear_ok(&["stats", "--responses", "--json"], &setup.config);
    let rows: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rows[0]["answered"], 1);
    assert_eq!(rows[0]["within_1h"], 1);
    assert_eq!(rows[0]["median_secs"], 1800.0);
}

/// Runs a future to completion from a sync closure (the wait loop polls with one).
fn futures_lite_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}
