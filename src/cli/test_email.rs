//! `overhear test-email TO`: sends one message through the configured transport and
//! reports what the server answered.
//!
//! Straight to the transport: never queues in the outbox or touches the database,
//! so it works while the daemon runs.

use std::process::ExitCode;

use crate::alerts::{build_message, build_transport, FailureKind, Renderer};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recipient address.
    pub to: String,
}

pub fn run(args: Args, global: &super::Global) -> anyhow::Result<ExitCode> {
    let config = global.load_config()?;
    let from: lettre::message::Mailbox = config
        .email
        .from
        .parse()
        .map_err(|e| anyhow::anyhow!("email.from {:?}: {e}", config.email.from))?;
    let transport = build_transport(&config.email, &config.mail_dir())?;
    let rendered = Renderer::new().test_message(&transport.describe())?;
    let now = chrono::Utc::now();
    let id = format!("test-{}", now.timestamp_millis());
    let msg = build_message(&from, &args.to, &rendered, &id, now)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "sending a test email to {} through {}",
        args.to,
        transport.describe()
    );
    match rt.block_on(transport.send(msg)) {
        Ok(answer) => {
            println!("accepted: {answer}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let what = match e.kind {
                FailureKind::Transient => "temporary failure (alerts would be retried)",
                FailureKind::Auth => "authentication failure",
                FailureKind::Permanent => "refused",
            };
            eprintln!("{what}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
