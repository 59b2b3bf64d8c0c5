//! `overhear backfill`: history from a loopback Hacker News, stored and classified,
//! never emailed, and the cursor saved so the daemon carries on from there.

mod sources_support;

use std::path::Path;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_stores_and_classifies_history_without_email() {
    let server = MockServer::start().await;
    let now = chrono::Utc::now().timestamp();
    serve_get(
        &server,
        "/hn/search_by_date",
        ResponseTemplate::new(200).set_body_json(json!({
            "hits": [
                hit("1", now - 3600, "Acme refused my refund and support hung up on me. Awful."),
                hit("2", now - 86400, "Thanks Acme, the new release fixed everything, great work!"),
                hit("3", now - 5 * 86400, "Acme from five days ago, too old for this backfill."),
            ],
            "nbHits": 3, "page": 0, "nbPages": 1, "hitsPerPage": 100
        })),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment");
    let config = dir.path().join("overhear.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"{}\"\n[model]\npath = \"{}\"\n\
             [[brand]]\nname = \"Acme\"\nquery = \"acme\"\nalert_to = [\"a@acme.test\"]\n\
             [[source]]\nkind = \"hackernews\"\nbase_url = \"{}/hn\"\n",
            dir.path().join("data").display(),
            model.display(),
            server.uri()
        ),
    )
    .unwrap();
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
    assert!(!dir.path().join("data/mail").exists());

    // a second backfill finds the cursor and adds nothing
    let out = overhear(&["backfill", "--since", "2d"], &config);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no new mentions"));
}
