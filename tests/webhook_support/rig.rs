//! The webhook tests' rig: a store, a test clock, Acme's rules alerting webhooks
//! on a loopback [`Receiver`](super::hooks::Receiver), and a sender. Included with
//! `#[path]` by tests/webhooks.rs and tests/webhooks_crash.rs (beside `hooks` and
//! `support`, the alerts helpers).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use overhear::alerts::{
    build_transport, build_webhooks, Alerter, AlertsConfig, Clock, OutboxState, Sender, TestClock,
};
use overhear::post::Mention;
use overhear::store::Store;

use crate::hooks::SECRET;
use crate::support::{alerts_config, file_email, mention, t};

/// Alert settings with one `[[webhook]]` per (name, kind), each posting to
/// `receiver` at `/{name}`, and `extra` (top-level `[alerts]` keys).
pub fn hooks_config(
    dir: &Path,
    receiver_port: u16,
    hooks: &[(&str, &str)],
    extra: &str,
) -> AlertsConfig {
    let mut text = format!("{extra}\n");
    for (name, kind) in hooks {
        let url = dir.join(format!("url-{name}"));
        std::fs::write(&url, format!("http://127.0.0.1:{receiver_port}/{name}\n")).unwrap();
        text.push_str(&format!(
            "[[webhook]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl_file = {:?}\nmin_interval = \"0s\"\n",
            url.display().to_string()
        ));
        if *kind == "json" {
            let secret = dir.join("hook-secret");
            std::fs::write(&secret, SECRET).unwrap();
            text.push_str(&format!(
                "secret_file = {:?}\n",
                secret.display().to_string()
            ));
        }
    }
    alerts_config(&text)
}

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub clock: Arc<TestClock>,
    pub alerter: Arc<Alerter>,
    pub cfg: AlertsConfig,
}

impl Rig {
    pub fn new(port: u16, hooks: &[(&str, &str)], extra: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        Rig::on(dir, store, port, hooks, extra)
    }

    pub fn on(
        dir: tempfile::TempDir,
        store: Store,
        port: u16,
        hooks: &[(&str, &str)],
        extra: &str,
    ) -> Rig {
        let cfg = hooks_config(dir.path(), port, hooks, extra);
        let names: Vec<String> = hooks.iter().map(|(n, _)| format!("{n:?}")).collect();
        let brand = toml::from_str(&format!(
            "name = \"Acme\"\nquery = '\"acme corp\"'\nalert_webhooks = [{}]\n",
            names.join(", ")
        ))
        .unwrap();
        let alerter = Arc::new(Alerter::new(&cfg, &[brand], 0.8));
        Rig {
            clock: Arc::new(TestClock::new(t(2026, 11, 23, 12, 5))),
            dir,
            store,
            alerter,
            cfg,
        }
    }

    pub fn sender_with_clock(&self, clock: Arc<dyn Clock>) -> Sender {
        let email = file_email(&self.dir.path().join("mail"));
        let transport = build_transport(&email, &self.dir.path().join("mail")).unwrap();
        Sender::new(
            self.store.clone(),
            self.alerter.clone(),
            transport,
            email.from.parse().unwrap(),
            clock,
        )
        .with_webhooks(build_webhooks(&self.cfg.webhook).unwrap())
    }

    pub fn sender(&self) -> Sender {
        self.sender_with_clock(self.clock.clone())
    }

    pub fn queue(&self, m: &Mention) -> usize {
        self.store
            .enqueue(&self.alerter.evaluate(m, self.clock.now()))
            .unwrap()
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub fn states(&self) -> Vec<OutboxState> {
        self.store
            .outbox_entries()
            .unwrap()
            .into_iter()
            .map(|e| e.state)
            .collect()
    }
}

/// A negative mention whose post tries chat control sequences, mass mentions,
/// markdown and HTML.
pub fn hostile(id: &str) -> Mention {
    let mut m = mention(id, 0.95);
    m.post.text = "<!channel> @everyone @here acme corp ate my data <script>alert(1)</script> **now** <https://evil.example|click>".into();
    let at = m.post.text.find("acme corp").unwrap();
    m.brands[0].terms[0].start = at;
    m.brands[0].terms[0].end = at + 9;
    m
}
