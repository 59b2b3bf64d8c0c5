//! The outbox over time: the sender task forgets finished entries after
//! `[alerts] keep_outbox`, and `overhear outbox list|retry` against a real database.

#[path = "alerts_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use overhear::alerts::{run_sender, Clock, OutboxState, TestClock};
use overhear::store::Store;
use support::*;

#[tokio::test]
async fn sender_task_forgets_finished_entries_after_keep_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let mail = dir.path().join("mail");
    let clock = Arc::new(TestClock::new(t(2026, 10, 1, 12, 0)));
    let alerter = acme_alerter("", &["support@acme.test"]);
    let old = alerter.evaluate(&mention("1", 0.9), clock.now());
    store.enqueue(&old).unwrap();
    let s = sender_for(&store, &alerter, &file_email(&mail), &mail, clock.clone());
    assert_eq!(s.deliver_due().await.unwrap().sent.len(), 1);
    // 31 days later (the default keep_outbox is 30 days), a new alert is queued
    clock.advance(Duration::from_secs(31 * 24 * 3600));
    let new = alerter.evaluate(&mention("2", 0.9), clock.now());
    store.enqueue(&new).unwrap();
    let s = sender_for(&store, &alerter, &file_email(&mail), &mail, clock.clone());
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(run_sender(s, stop.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    task.await.unwrap();
    assert!(
        store.outbox_entry(&old[0].key).unwrap().is_none(),
        "the entry sent 31 days ago (and its copy of the mention) is gone"
    );
    let e = store.outbox_entry(&new[0].key).unwrap().unwrap();
    assert_eq!(e.state, OutboxState::Sent, "the new one is kept");
}

fn overhear(cfg: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn outbox_list_failed_and_retry_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("overhear.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\ndata_dir = {:?}\n\n[[brand]]\nname = \"Acme\"\nquery = 'acme'\n\n[[source]]\nkind = \"hackernews\"\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let alerter = acme_alerter("", &["support@acme.test", "ops@acme.test"]);
    let now = chrono::Utc::now();
    // posted just now: an older post would go with the backlog
    let mut m = mention("1", 0.9);
    m.post.created_at = now;
    let items = alerter.evaluate(&m, now);
    let (failed, other) = (items[0].key.clone(), items[1].key.clone());
    {
        let store = Store::open(&data).unwrap();
        store.enqueue(&items).unwrap();
        store
            .mark_failed(std::slice::from_ref(&failed), now, "550 no such user")
            .unwrap();
    }
    let (code, out, err) = overhear(&cfg, &["outbox", "list", "--failed"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains("failed") && lines[0].contains(&failed),
        "{out}"
    );
    assert!(out.contains("last error: 550 no such user"), "{out}");
    let id = lines[0].split_whitespace().next().unwrap().to_string();

    let (code, out, _) = overhear(&cfg, &["outbox", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains(&other) && out.contains("pending"), "{out}");

    let (code, out, err) = overhear(&cfg, &["outbox", "retry", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("queued again"), "{out}");
    let (_, out, _) = overhear(&cfg, &["outbox", "list", "--failed"]);
    assert!(out.trim().is_empty(), "{out}");
    let (code, _, err) = overhear(&cfg, &["outbox", "retry", "nosuchid"]);
    assert_eq!(code, 1, "{err}");

    let store = Store::open(&data).unwrap();
    let e = store.outbox_entry(&failed).unwrap().unwrap();
    assert_eq!(e.state, OutboxState::Pending);
    assert!(e.next_attempt <= chrono::Utc::now() && e.first_attempt.is_none());
    assert_eq!(store.due(chrono::Utc::now(), 10).unwrap().len(), 2);
}

#[test]
fn keep_outbox_shorter_than_a_day_is_refused() {
    let cfg = alerts_config("keep_outbox = \"1h\"");
    let problems = cfg.problems(&[brand("Acme", &["support@acme.test"])]);
    assert!(
        problems.iter().any(|p| p.key == "alerts.keep_outbox"),
        "{problems:?}"
    );
    assert!(alerts_config("")
        .problems(&[])
        .iter()
        .all(|p| p.key != "alerts.keep_outbox"));
}
