//! SIGKILL at the two moments that matter for the outbox, with a real sender in a
//! child process and a loopback SMTP server in this one:
//! - during the send, before the server accepted: delivered once after the restart;
//! - after the server accepted, before "sent" was recorded: SMTP is at-least-once,
//!   so the restart sends that email again, exactly once more, with the same
//!   Message-ID (the one window the README names).

#[path = "alerts_support/mod.rs"]
mod support;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use overhear::alerts::{Clock, TestClock};
use overhear::store::Store;
use support::flaky::{FlakySmtp, Mode};
use support::*;

fn sender_on(store: &Store, port: u16, clock: Arc<TestClock>) -> overhear::alerts::Sender {
    let url = format!("smtp://127.0.0.1:{port}?tls=none");
    let email = plain_email(&url, Duration::from_secs(30));
    let alerter = acme_alerter("", &["support@acme.test"]);
    sender_for(store, &alerter, &email, Path::new("unused"), clock)
}

/// Child: queues one alert and sends it to the server on OVERHEAR_TEST_SMTP_PORT;
/// with OVERHEAR_TEST_HANG_AT_MARK_SENT, recording "sent" blocks (the kill lands there).
#[test]
#[ignore = "run by the tests below as a child process"]
fn child_queue_and_send() {
    let (Ok(dir), Ok(port)) = (
        std::env::var("OVERHEAR_TEST_CHILD_DIR"),
        std::env::var("OVERHEAR_TEST_SMTP_PORT"),
    ) else {
        return;
    };
    let store = Store::open(Path::new(&dir)).unwrap();
    let clock = Arc::new(TestClock::new(t(2026, 11, 23, 12, 5)));
    let alerter = acme_alerter("", &["support@acme.test"]);
    store
        .enqueue(&alerter.evaluate(&mention("9", 0.9), clock.now()))
        .unwrap();
    if std::env::var_os("OVERHEAR_TEST_HANG_AT_MARK_SENT").is_some() {
        store.set_outbox_fault(Some(Arc::new(|op: &str| {
            if op == "mark_sent" {
                println!("ACCEPTED");
                std::thread::sleep(Duration::from_secs(120));
            }
            Ok(())
        })));
    }
    println!("QUEUED");
    let s = sender_on(&store, port.parse().unwrap(), clock);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rt.block_on(s.deliver_due());
    std::thread::sleep(Duration::from_secs(120));
}

/// Opens the database `times` times (restarts), each time with one sender pass.
async fn restart_and_deliver(data: &Path, port: u16, times: usize) {
    let clock = Arc::new(TestClock::new(t(2026, 11, 23, 12, 6)));
    for _ in 0..times {
        let store = Store::open(data).unwrap();
        let s = sender_on(&store, port, clock.clone());
        s.deliver_due().await.unwrap();
    }
}

/// Runs the child until `ready` says so, then SIGKILLs it.
fn kill_child_when(data: &Path, port: u16, hang_at_mark: bool, ready: impl Fn(&str) -> bool) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_queue_and_send",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("OVERHEAR_TEST_CHILD_DIR", data)
    .env("OVERHEAR_TEST_SMTP_PORT", port.to_string())
    .stdout(Stdio::piped());
    if hang_at_mark {
        cmd.env("OVERHEAR_TEST_HANG_AT_MARK_SENT", "1");
    }
    let mut child = cmd.spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let start = Instant::now();
    while !ready(&line) {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child exited early");
        assert!(start.elapsed() < Duration::from_secs(60));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[tokio::test]
async fn kill9_during_the_send_before_accept_delivers_once_after_restart() {
    let server = FlakySmtp::start(free_port());
    server.set_mode(Mode::Hang); // DATA received, never answered
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    kill_child_when(&data, server.port, false, |l| {
        l.contains("QUEUED") && {
            let start = Instant::now();
            while server.seen().is_empty() && start.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(10));
            }
            true
        }
    });
    assert_eq!(server.seen().len(), 1, "killed in the middle of the send");
    assert!(
        server.messages().is_empty(),
        "and before the server accepted"
    );
    server.set_mode(Mode::Accept);
    restart_and_deliver(&data, server.port, 2).await;
    let msgs = server.messages();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].part("text/plain").unwrap().contains("item?id=9"));
    assert_eq!(
        msgs[0].header("Message-ID"),
        server.seen()[0].header("Message-ID")
    );
}

#[tokio::test]
async fn kill9_between_accept_and_mark_sent_resends_once_with_the_same_message_id() {
    let server = FlakySmtp::start(free_port());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    kill_child_when(&data, server.port, true, |l| l.contains("ACCEPTED"));
    assert_eq!(server.messages().len(), 1, "the server accepted it");
    restart_and_deliver(&data, server.port, 3).await;
    let msgs = server.messages();
    // at-least-once: the one email of the window is sent again, once, and no more
    assert_eq!(msgs.len(), 2, "exactly one resend");
    assert_eq!(
        msgs[0].header("Message-ID"),
        msgs[1].header("Message-ID"),
        "the copy carries the same Message-ID"
    );
    let store = Store::open(&data).unwrap();
    assert_eq!(store.outbox_depth().unwrap().sent, 1);
}
