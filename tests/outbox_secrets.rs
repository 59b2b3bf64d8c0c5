//! SMTP secrets: no AUTH in clear text off loopback, no password inside `smtp_url`,
//! and a URL's user name and password never printed (check, errors).

#[path = "alerts_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use overhear::alerts::{build_transport, redact_url, EmailConfig, TransportKind};
use support::*;

fn with_auth(url: &str, pw_file: &Path) -> EmailConfig {
    EmailConfig {
        transport: TransportKind::Smtp,
        smtp_url: Some(url.to_string()),
        username: Some("alerts".into()),
        password_file: Some(pw_file.to_path_buf()),
        ..EmailConfig::default()
    }
}

#[test]
fn credentials_without_tls_are_refused_unless_the_relay_is_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let pw = password_file(dir.path(), "hunter2");
    for mode in ["none", "opportunistic"] {
        let url = format!("smtp://smtp.example.com:25?tls={mode}");
        let err = build_transport(&with_auth(&url, &pw), dir.path())
            .err()
            .unwrap_or_else(|| panic!("{url}: AUTH would go out in clear text"));
        assert!(err.to_string().contains("clear text"), "{err}");
        let problems = with_auth(&url, &pw).problems();
        assert!(
            problems.iter().any(|p| p.message.contains("clear text")),
            "check must say so too: {problems:?}"
        );
    }
    for url in [
        "smtp://127.0.0.1:2525?tls=none",
        "smtp://localhost:2525?tls=opportunistic",
        "smtp://[::1]:2525?tls=none",
    ] {
        build_transport(&with_auth(url, &pw), dir.path())
            .unwrap_or_else(|e| panic!("{url}: a loopback relay may take AUTH: {e}"));
        assert!(with_auth(url, &pw).problems().is_empty(), "{url}");
    }
    // TLS (STARTTLS required, or implicit) with credentials: fine anywhere
    for url in ["smtp://smtp.example.com:587", "smtps://smtp.example.com"] {
        build_transport(&with_auth(url, &pw), dir.path()).unwrap();
    }
}

fn check(dir: &Path, smtp_url: &str) -> (i32, String) {
    let cfg = dir.join("overhear.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\ndata_dir = {:?}\n\n[email]\ntransport = \"smtp\"\nsmtp_url = {smtp_url:?}\n\n\
             [[brand]]\nname = \"Acme\"\nquery = 'acme'\n\n[[source]]\nkind = \"hackernews\"\n",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("check")
        .arg(&cfg)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn password_in_smtp_url_is_refused_by_check_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = check(dir.path(), "smtps://alerts:hunter2@smtp.example.com:465");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("password_env"), "{out}");
    assert!(!out.contains("hunter2"), "the password is printed: {out}");
    // a URL that is wrong for another reason is shown without its userinfo
    let (code, out) = check(dir.path(), "http://alerts:hunter2@smtp.example.com");
    assert_ne!(code, 0, "{out}");
    assert!(
        !out.contains("hunter2") && !out.contains("alerts:"),
        "{out}"
    );
    // and the transport refuses it too (a config built without `check`)
    let e = EmailConfig {
        transport: TransportKind::Smtp,
        smtp_url: Some("smtps://alerts:hunter2@smtp.example.com".into()),
        ..EmailConfig::default()
    };
    let err = build_transport(&e, dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("password_env") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn redacted_urls_keep_only_scheme_host_and_path() {
    assert_eq!(
        redact_url("smtps://alerts:hunter2@smtp.example.com:465"),
        "smtps://***@smtp.example.com:465"
    );
    assert_eq!(
        redact_url("smtp://smtp.example.com:587"),
        "smtp://smtp.example.com:587"
    );
    assert_eq!(redact_url("not a url:pw@host/x"), "***@host/x");
    assert!(!redact_url("smtp://a:b@c@d:1/").contains("a:b"));
}
