//! SIGKILL of a process delivering to a JSON webhook, at the two moments that
//! matter: between enqueue and send (delivered once after the restart), and between
//! the receiver's 200 and the "sent" mark (sent once more, with the same
//! `webhook-id`, so the receiver can drop the copy).

#[path = "webhook_support/mod.rs"]
mod hooks;
#[path = "webhook_support/rig.rs"]
mod rig;
#[path = "alerts_support/mod.rs"]
mod support;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hooks::{verify_standard_webhook, Receiver, SECRET};
use overhear::store::Store;
use rig::Rig;
use support::mention;

/// Child: queues one alert for a JSON webhook on OVERHEAR_TEST_HOOK_PORT; then
/// either waits to be killed before any send (OVERHEAR_TEST_KILL_BEFORE_SEND) or
/// sends with recording "sent" blocked (the kill lands after the receiver's 200).
#[test]
#[ignore = "run by the tests below as a child process"]
fn child_queue_and_send_to_a_webhook() {
    let (Ok(dir), Ok(port)) = (
        std::env::var("OVERHEAR_TEST_CHILD_DIR"),
        std::env::var("OVERHEAR_TEST_HOOK_PORT"),
    ) else {
        return;
    };
    let dir = tempfile::TempDir::new_in(&dir).unwrap();
    let store = Store::open(&dir.path().parent().unwrap().join("data")).unwrap();
    let r = Rig::on(dir, store, port.parse().unwrap(), &[("hook", "json")], "");
    r.queue(&mention("13", 0.95));
    r.store.flush().unwrap();
    println!("QUEUED");
    if std::env::var_os("OVERHEAR_TEST_KILL_BEFORE_SEND").is_some() {
        std::thread::sleep(Duration::from_secs(120));
    }
    r.store.set_outbox_fault(Some(Arc::new(|op: &str| {
        if op == "mark_sent" {
            println!("ACCEPTED");
            std::thread::sleep(Duration::from_secs(120));
        }
        Ok(())
    })));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rt.block_on(r.sender().deliver_due());
    std::thread::sleep(Duration::from_secs(120));
}

fn kill_child_when(base: &Path, port: u16, before_send: bool, ready: &str) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_queue_and_send_to_a_webhook",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("OVERHEAR_TEST_CHILD_DIR", base)
    .env("OVERHEAR_TEST_HOOK_PORT", port.to_string())
    .stdout(Stdio::piped());
    if before_send {
        cmd.env("OVERHEAR_TEST_KILL_BEFORE_SEND", "1");
    }
    let mut child = cmd.spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let start = Instant::now();
    while !line.contains(ready) {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child exited early");
        assert!(start.elapsed() < Duration::from_secs(60));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// Restarts on `base/data` `times` times, each with one sender pass.
async fn restart_and_deliver(base: &Path, port: u16, times: usize) {
    for _ in 0..times {
        let dir = tempfile::TempDir::new_in(base).unwrap();
        let store = Store::open(&base.join("data")).unwrap();
        let r = Rig::on(dir, store, port, &[("hook", "json")], "");
        r.advance(60);
        r.sender().deliver_due().await.unwrap();
    }
}

#[tokio::test]
async fn kill9_between_enqueue_and_send_delivers_once_after_restart() {
    let rx = Receiver::start();
    let base = tempfile::tempdir().unwrap();
    kill_child_when(base.path(), rx.port, true, "QUEUED");
    assert!(rx.requests().is_empty(), "killed before any send");
    restart_and_deliver(base.path(), rx.port, 2).await;
    let seen = rx.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(verify_standard_webhook(SECRET, &seen[0]));
}

#[tokio::test]
async fn kill9_between_the_receivers_200_and_the_sent_mark_resends_once_with_the_same_id() {
    let rx = Receiver::start();
    let base = tempfile::tempdir().unwrap();
    kill_child_when(base.path(), rx.port, false, "ACCEPTED");
    let first = rx.requests();
    assert_eq!(first.len(), 1, "the receiver answered 200 before the kill");
    restart_and_deliver(base.path(), rx.port, 2).await;
    let seen = rx.requests();
    assert_eq!(seen.len(), 2, "resent exactly once more: {seen:?}");
    assert_eq!(
        seen[1].header("webhook-id"),
        first[0].header("webhook-id"),
        "with the same webhook-id, so the receiver can drop the copy"
    );
    assert!(verify_standard_webhook(SECRET, &seen[1]));
}
