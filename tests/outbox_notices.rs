//! The "could not be delivered" notice: who gets it, through a real SMTP server on
//! loopback that refuses one recipient.

#[path = "alerts_support/mod.rs"]
mod support;

use std::sync::Arc;

use overhear::alerts::{Alerter, Clock, TestClock};
use overhear::store::Store;
use support::*;

const PW: &str = "s3cret";

#[tokio::test]
async fn undeliverable_notice_skips_exactly_the_failed_address() {
    // ob@acme.test is refused (550); bob@acme.test is another admin whose address
    // merely contains it, and must still hear about the failure
    let server = SmtpServer::start(free_port(), PW, &["ob@acme.test"]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let clock = Arc::new(TestClock::new(t(2026, 11, 23, 12, 5)));
    let alerter = Arc::new(Alerter::new(
        &alerts_config("admin_to = [\"Bob <bob@acme.test>\", \"OB@acme.test\"]"),
        &[brand("Acme", &["ob@acme.test"])],
        0.8,
    ));
    let s = smtp_sender(
        &store,
        &alerter,
        server.port,
        &password_file(dir.path(), PW),
        &clock,
    );
    store
        .enqueue(&alerter.evaluate(&mention("1", 0.9), clock.now()))
        .unwrap();
    let rep = s.deliver_due().await.unwrap();
    assert_eq!(rep.failed.len(), 1, "{rep:?}");
    s.deliver_due().await.unwrap();
    let to: Vec<Vec<String>> = server.messages().iter().map(|m| m.to.clone()).collect();
    assert_eq!(
        to,
        [["bob@acme.test".to_string()]],
        "one notice, to bob only (the failed address, in any case, gets none)"
    );
    let subject = server.messages()[0].header("Subject").unwrap();
    assert!(subject.contains("could not be delivered"), "{subject}");
}
