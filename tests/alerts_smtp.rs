//! Alerts through a real SMTP server on loopback (STARTTLS + AUTH PLAIN).
//!
//! Outages (a server stopped mid-session, 451, hanging) are in tests/outbox_faults.rs,
//! kills during a send and between accept and "sent" in tests/outbox_crash.rs.

#[path = "alerts_support/mod.rs"]
mod support;

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use overhear::alerts::{build_transport, Clock, OutboxState, TestClock};
use overhear::store::Store;
use support::*;

const PW: &str = "s3cret";

#[tokio::test]
async fn one_negative_mention_sends_one_email_per_recipient() {
    let server = SmtpServer::start(free_port(), PW, &[]);
    let rig = SmtpRig::new(
        "",
        &["support@acme.test", "Community <community@acme.test>"],
        server.port,
        PW,
    );
    let s = &rig.sender;

    // below the threshold: nothing
    assert!(rig
        .alerter
        .evaluate(&mention("1", 0.5), rig.clock.now())
        .is_empty());
    let items = rig.alerter.evaluate(&mention("2", 0.95), rig.clock.now());
    assert_eq!(items.len(), 2);
    assert_eq!(rig.store.enqueue(&items).unwrap(), 2);
    assert_eq!(
        rig.store.enqueue(&items).unwrap(),
        0,
        "queuing the same alert twice is a no-op"
    );

    let report = s.deliver_due().await.unwrap();
    assert_eq!(report.sent.len(), 2, "{report:?}");
    let msgs = server.messages();
    assert_eq!(msgs.len(), 2);
    let mut to: Vec<String> = msgs.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["community@acme.test", "support@acme.test"]);
    for m in &msgs {
        assert_eq!(m.from, "alerts@overhear.test");
        let subject = m.header("Subject").unwrap();
        assert!(
            subject.contains("Acme")
                && subject.contains("negative")
                && subject.contains("hackernews"),
            "{subject}"
        );
        assert!(m.header("Bcc").is_none(), "no header injection: {}", m.raw);
        let head = m.raw.split("\r\n\r\n").next().unwrap();
        assert!(
            !head.contains("\r\nBcc:") && !head.contains("\nBcc:"),
            "{head}"
        );
        assert!(m
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"));
        let text = m.part("text/plain").unwrap();
        let html = m.part("text/html").unwrap();
        assert!(
            text.contains("*acme corp* still has <b>no</b> refund"),
            "{text}"
        );
        assert!(
            text.contains("https://news.ycombinator.com/item?id=2"),
            "{text}"
        );
        assert!(text.contains("negative 95.0%"), "{text}");
        assert!(text.contains("Engagement: 42"), "{text}");
        assert!(
            html.contains("<mark>acme corp</mark> still has &lt;b&gt;no&lt;&#x2f;b&gt; refund"),
            "{html}"
        );
        assert!(
            html.contains("<mark>Acme corp</mark> &lt;script&gt;"),
            "{html}"
        );
        assert!(
            !html.contains("<script>") && !html.contains("<b>no"),
            "{html}"
        );
        assert!(html.contains("angry &lt;user&gt;"), "{html}");
        assert!(html.contains("threshold for Acme"), "{html}");
    }
    let again = s.deliver_due().await.unwrap();
    assert!(again.sent.is_empty());
    assert_eq!(server.messages().len(), 2);
    assert_eq!(rig.store.outbox_depth().unwrap().sent, 2);
}

#[tokio::test]
async fn alerts_fail_after_give_up_time() {
    let port = free_port();
    let rig = SmtpRig::new(
        "give_up_after = \"10m\"\nretry_initial = \"1m\"\nretry_max = \"4m\"",
        &["support@acme.test"],
        port,
        PW,
    );
    let s = &rig.sender;
    rig.store
        .enqueue(&rig.alerter.evaluate(&mention("1", 0.9), rig.clock.now()))
        .unwrap();
    let mut failed = Vec::new();
    for _ in 0..20 {
        let r = s.deliver_due().await.unwrap();
        failed.extend(r.failed);
        rig.clock.advance(Duration::from_secs(60));
    }
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].1.contains("gave up"), "{}", failed[0].1);
    assert_eq!(rig.store.failed().unwrap().len(), 1);
    assert_eq!(rig.store.outbox_depth().unwrap().pending, 0);
}

/// Child half of the kill -9 test: queues an alert, says so, then hangs until killed.
#[test]
#[ignore = "run by kill9_between_queue_and_send as a child process"]
fn child_queue_then_hang() {
    let Ok(dir) = std::env::var("OVERHEAR_TEST_CHILD_DIR") else {
        return;
    };
    let alerter = acme_alerter("", &["support@acme.test"]);
    let store = Store::open(Path::new(&dir)).unwrap();
    store
        .enqueue(&alerter.evaluate(&mention("9", 0.9), t(2026, 11, 23, 12, 5)))
        .unwrap();
    println!("QUEUED");
    std::thread::sleep(Duration::from_secs(120));
}

#[tokio::test]
async fn kill9_between_queue_and_send_delivers_once() {
    let server = SmtpServer::start(free_port(), PW, &[]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_queue_then_hang",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("OVERHEAR_TEST_CHILD_DIR", &data)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("QUEUED") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child exited before queuing"
        );
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let clock = Arc::new(TestClock::new(t(2026, 11, 23, 12, 6)));
    let alerter = acme_alerter("", &["support@acme.test"]);
    let pw = password_file(dir.path(), PW);
    for _ in 0..2 {
        let store = Store::open(&data).unwrap();
        let s = smtp_sender(&store, &alerter, server.port, &pw, &clock);
        s.deliver_due().await.unwrap();
    }
    let msgs = server.messages();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].part("text/plain").unwrap().contains("item?id=9"));
}

#[tokio::test]
async fn rejected_recipient_fails_alone_and_others_are_delivered() {
    let server = SmtpServer::start(free_port(), PW, &["nobody@"]);
    let rig = SmtpRig::new(
        "",
        &["a@acme.test", "nobody@acme.test", "b@acme.test"],
        server.port,
        PW,
    );
    let s = &rig.sender;
    rig.store
        .enqueue(&rig.alerter.evaluate(&mention("1", 0.9), rig.clock.now()))
        .unwrap();
    let r = s.deliver_due().await.unwrap();
    assert_eq!(r.sent.len(), 2, "{r:?}");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert!(r.failed[0].0.ends_with("nobody@acme.test"));
    assert!(r.failed[0].1.contains("550"), "{}", r.failed[0].1);
    let mut to: Vec<String> = server
        .messages()
        .iter()
        .flat_map(|m| m.to.clone())
        .collect();
    to.sort();
    assert_eq!(to, ["a@acme.test", "b@acme.test"]);
    let failed = rig.store.failed().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].state, OutboxState::Failed);
    // a permanent failure is not retried, but the other recipients hear about it
    rig.clock.advance(Duration::from_secs(7200));
    let r = s.deliver_due().await.unwrap();
    assert!(r.failed.is_empty(), "{r:?}");
    assert_eq!(r.emails, 2, "{r:?}");
    let notices: Vec<_> = server
        .messages()
        .into_iter()
        .filter(|m| {
            m.header("Subject")
                .unwrap()
                .contains("could not be delivered")
        })
        .collect();
    assert_eq!(notices.len(), 2);
    assert!(notices[0].part("text/plain").unwrap().contains("550"));
}

#[tokio::test]
async fn auth_failure_is_reported_clearly_and_retried() {
    let server = SmtpServer::start(free_port(), PW, &[]);
    let rig = SmtpRig::new("", &["support@acme.test"], server.port, "wrong");
    let wrong = &rig.sender;
    rig.store
        .enqueue(&rig.alerter.evaluate(&mention("1", 0.9), rig.clock.now()))
        .unwrap();
    let r = wrong.deliver_due().await.unwrap();
    assert_eq!(r.retried.len(), 1, "{r:?}");
    let err = &r.retried[0].1;
    assert!(
        err.contains("authentication failed") && err.contains("535"),
        "{err}"
    );
    assert!(server.messages().is_empty());
    // the password is fixed: the alert goes out at the next attempt
    let right = smtp_sender(
        &rig.store,
        &rig.alerter,
        server.port,
        &password_file(rig.dir.path(), PW),
        &rig.clock,
    );
    rig.clock.advance(Duration::from_secs(30));
    assert_eq!(right.deliver_due().await.unwrap().sent.len(), 1);
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn implicit_tls_smtps() {
    let backend = SmtpServer::start_plain(free_port());
    let port = tls_front(backend.port).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clock = Arc::new(TestClock::new(t(2026, 11, 23, 12, 5)));
    let alerter = acme_alerter("", &["support@acme.test"]);
    let email = overhear::alerts::EmailConfig {
        smtp_url: Some(format!("smtps://localhost:{port}")),
        username: None,
        password_file: None,
        ..smtp_email(port, Path::new("unused"))
    };
    let transport = build_transport(&email, Path::new("unused")).unwrap();
    assert_eq!(transport.describe(), format!("smtps://localhost:{port}"));
    let s = sender_with(&store, &alerter, transport, &email, clock.clone());
    store
        .enqueue(&alerter.evaluate(&mention("1", 0.9), clock.now()))
        .unwrap();
    let r = s.deliver_due().await.unwrap();
    assert_eq!(r.sent.len(), 1, "{r:?}");
    assert_eq!(backend.messages().len(), 1);
}

#[test]
fn test_email_command_reports_the_smtp_answer() {
    let server = SmtpServer::start(free_port(), PW, &["nobody@"]);
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path(), PW);
    let config = dir.path().join("overhear.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = {:?}\n[email]\ntransport = \"smtp\"\nfrom = \"overhear <alerts@overhear.test>\"\n\
             smtp_url = \"smtp://localhost:{}\"\nusername = \"alerts\"\npassword_file = {:?}\nca_file = {:?}\n",
            dir.path().join("data").display().to_string(),
            server.port,
            pw.display().to_string(),
            fixtures().join("ca.pem").display().to_string(),
        ),
    )
    .unwrap();
    let run = |to: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_overhear"))
            .arg("--config")
            .arg(&config)
            .args(["test-email", to])
            .output()
            .unwrap()
    };
    let ok = run("ops@acme.test");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.contains("accepted: 250"), "{out}");
    let msgs = server.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].to, ["ops@acme.test"]);
    assert!(msgs[0].header("Subject").unwrap().contains("test email"));

    let refused = run("nobody@acme.test");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(err.contains("refused") && err.contains("550"), "{err}");
}
