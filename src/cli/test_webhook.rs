//! `overhear test-webhook NAME`: sends one test message to an `[[alerts.webhook]]`
//! and prints what its server answered.
//!
//! Straight to the destination: never queues in the outbox or touches the
//! database, so it works while the daemon runs. Never prints the URL.

use std::process::ExitCode;

use crate::alerts::render::plain_test_notice;
use crate::alerts::webhook::{chat::ChatContent, json};
use crate::alerts::{FailureKind, Webhook, WebhookKind};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The `name` of an `[[alerts.webhook]]` entry.
    pub name: String,
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = global.load_config()?;
    let Some(cfg) = config
        .alerts
        .webhook
        .iter()
        .find(|w| w.name.eq_ignore_ascii_case(&args.name))
    else {
        let known: Vec<&str> = config
            .alerts
            .webhook
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        anyhow::bail!(
            "no [[alerts.webhook]] is named {:?} ({})",
            args.name,
            if known.is_empty() {
                "none is configured".to_string()
            } else {
                format!("configured: {}", known.join(", "))
            }
        );
    };
    let hook = Webhook::build(cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("sending a test message to webhook {}", hook.describe());
    let now = chrono::Utc::now();
    let result = rt.block_on(async {
        if hook.kind == WebhookKind::Json {
            let body = json::test_body(now);
            let id = body["id"].as_str().unwrap_or("msg_test").to_string();
            hook.send_json(&id, &body, now).await
        } else {
            let content = ChatContent::Notice(plain_test_notice(&format!(
                "the {} webhook {}",
                hook.kind.title(),
                hook.name
            )));
            hook.send_chat(&content, &[], now).await
        }
    });
    match result {
        Ok(answer) => {
            println!("accepted: {answer}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let what = match e.kind {
                FailureKind::Permanent => "refused (alerts would be given up on)",
                _ => "temporary failure (alerts would be retried)",
            };
            eprintln!("{what}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
