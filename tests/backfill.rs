//! `overhear backfill`: history from a loopback Hacker News, stored and classified,
//! never emailed (nothing queued, and the daemon that runs next mails only what is
//! new), and the cursor saved so the daemon carries on from there.

mod daemon_support;
mod sources_support;

use std::path::Path;
use std::time::Duration;

use daemon_support::{
    config_text, free_port, signal, start, wait_exit, wait_for, wait_healthy, wait_two_more_polls,
    KeepOnFailure, Setup, ACME,
};
use serde_json::{json, Value};
use sources_support::{overhear, overhear_ok, serve_get};
use wiremock::{MockServer, ResponseTemplate};

fn hit(id: &str, at: i64, text: &str) -> Value {
    json!({
        "created_at": chrono::DateTime::from_timestamp(at, 0).unwrap().to_rfc3339(),
        "author": "someone", "points": 3, "comment_text": text, "story_id": 1,
        "story_title": "Thread", "parent_id": 1, "created_at_i": at,
        "_tags": ["comment"], "objectID": id
    })
}

async fn serve_hits(server: &MockServer, hits: Vec<Value>) {
    server.reset().await;
    let n = hits.len();
    serve_get(
        server,
        "/hn/search_by_date",
        ResponseTemplate::new(200).set_body_json(json!({
            "hits": hits, "nbHits": n, "page": 0, "nbPages": 1, "hitsPerPage": 100
        })),
    )
    .await;
}

/// The texts of the `.eml` files in `dir`, quoted-printable soft breaks undone.
fn mails(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .replace("=\r\n", "")
                .replace("=\n", "")
        })
        .collect()
}

const OLD_COMPLAINT: &str =
    "Acme refused my refund for order Q1001 and support hung up on me. Awful.";
const NEW_COMPLAINT: &str =
    "Acme lost order Q1004 and support hung up on me twice. Awful, never again.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_stores_and_classifies_history_without_email() {
    let server = MockServer::start().await;
    let now = chrono::Utc::now().timestamp();
    let history = vec![
        hit("9001", now - 3600, OLD_COMPLAINT),
        hit(
            "9002",
            now - 86400,
            "Thanks Acme, the new release fixed everything, great work!",
        ),
        hit(
            "9003",
            now - 5 * 86400,
            "Acme from five days ago, too old for this backfill.",
        ),
    ];
    serve_hits(&server, history.clone()).await;
    let dir = KeepOnFailure(Some(tempfile::tempdir().unwrap()));
    let mail = dir.path().join("mail");
    let api = free_port();
    let rest = format!(
        "[email]\ntransport = \"file\"\nmail_dir = \"{}\"\n\n{ACME}\n[[source]]\nkind = \"hackernews\"\nbase_url = \"{}/hn\"\nevery = \"10s\"\n",
        mail.display(),
        server.uri()
    );
    let config = dir.path().join("overhear.toml");
    std::fs::write(&config, config_text(dir.path(), api, "", &rest)).unwrap();
    let out = overhear_ok(&["backfill", "--since", "2d"], &config);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 negative") && stdout.contains("1 positive"),
        "{stdout}"
    );

    // the request started at the cutoff, not at "the newest page"
    let requests = server.received_requests().await.unwrap();
    let query = requests[0].url.query().unwrap_or("").to_string();
    assert!(query.contains("numericFilters=created_at_i"), "{query}");

    let out = overhear_ok(&["mentions", "list", "--json"], &config);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 2, "{list:#?}");
    assert!(list.iter().all(|m| m["sentiment"]["label"].is_string()));
    // history is not news: nothing was queued for email
    let out = overhear_ok(&["outbox", "list", "--json"], &config);
    assert!(
        out.stdout.is_empty(),
        "the backfill queued alerts: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // a second backfill finds the cursor and adds nothing
    let out = overhear(&["backfill", "--since", "2d"], &config);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no new mentions"));

    // the daemon carries on: a new complaint is mailed (the mail folder is where an
    // alert would be), the backfilled one never, even after it is polled again
    let mut served = history;
    served.push(hit("9004", now, NEW_COMPLAINT));
    serve_hits(&server, served).await;
    let setup = Setup { dir, config, api };
    let mut child = start(&setup, "run.log");
    wait_healthy(api, &mut child).await;
    wait_for("the new complaint's alert", Duration::from_secs(60), || {
        mails(&mail).iter().any(|m| m.contains("Q1004"))
    })
    .await;
    wait_two_more_polls(&server, &["/hn/search_by_date"], Duration::from_secs(60)).await;
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    let mailed = mails(&mail);
    assert!(
        !mailed.iter().any(|m| m.contains("Q1001")),
        "the backfilled complaint was mailed: {mailed:#?}"
    );
}
