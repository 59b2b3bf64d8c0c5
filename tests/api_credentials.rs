//! The API always wants credentials (issue 27, finding 1): the real `overhear run`
//! binary on loopback with no token configured, reached the way a reverse proxy
//! reaches it (from 127.0.0.1, with `Host: <public host>`), and by local processes.
//! The daemon keeps its own token in `data_dir/api-token` (0600), which the CLI on
//! the same machine reads: `overhear user add` and `mentions list` need no set-up.

mod api_support;
mod store_support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use api_support::*;

const PUBLIC: &str = "overhear.example.com";

#[test]
fn behind_a_proxy_without_a_configured_token_strangers_get_no_api_power() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        dir.path(),
        &format!("127.0.0.1:{port}"),
        &format!("public_url = \"https://{PUBLIC}/\""),
    );
    // `check` warns, and says what a stranger meets
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("check")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning") && err.contains("public_url") && err.contains("/api/"),
        "check says nothing about what public_url exposes: {err}"
    );

    let d = start(dir, config, port);
    let host = ("Host", PUBLIC);
    let json = ("Content-Type", "application/json");
    let eve = r#"{"name":"eve","password":"attacker-password-1"}"#;
    // the reproduction from the issue: no token, the proxy's Host
    let (code, body) = raw(d.port, "POST", "/api/users", &[host, json], eve);
    assert_eq!(code, 401, "a stranger created a user: {body}");
    for (method, path, body) in [
        (
            "POST",
            "/api/users/dana/password",
            r#"{"password":"x-new-password-1"}"#,
        ),
        ("DELETE", "/api/users/dana", ""),
        ("GET", "/api/users", ""),
        ("GET", "/api/mentions", ""),
        ("GET", "/api/stats", ""),
        ("POST", "/api/reload", ""),
        ("GET", "/metrics", ""),
    ] {
        let (code, _) = raw(d.port, method, path, &[host, json], body);
        assert_eq!(code, 401, "{method} {path} through the proxy");
        // every local process too: loopback is no credential
        let (code, _) = raw(d.port, method, path, &[json], body);
        assert_eq!(code, 401, "{method} {path} from loopback");
    }

    // the daemon made its own token, private to its user
    let file = d.dir.path().join("data/api-token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", file.display());
    let token = daemon_token(d.dir.path());
    assert!(token.len() >= 32);
    assert!(!d.log().contains(&token), "the token reached the log");
    let auth = bearer(&token);
    let right = ("Authorization", auth.as_str());
    let (code, body) = raw(d.port, "GET", "/api/users", &[host, right], "");
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("eve"), "{body}");

    // the CLI on this machine reads it: user management with zero set-up
    let mut add = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("--config")
        .arg(&d.config)
        .args(["user", "add", "dana", "--password-stdin"])
        .env_remove(TOKEN_ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"dana-password-123\n")
        .unwrap();
    let out = add.wait_with_output().unwrap();
    ok(&out);
    let list = ok(&overhear(&d.config, &["user", "list"]));
    assert!(list.contains("dana") && !list.contains("eve"), "{list}");
    // (the daemon holds the database: these can only have gone through its API)
    ok(&overhear(&d.config, &["mentions", "list"]));
}

#[test]
fn healthz_checks_the_host_and_tells_details_only_to_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), "");
    let d = start(dir, config, port);
    // a DNS-rebinding page reads nothing, not even the health line
    let (code, body) = raw(d.port, "GET", "/healthz", &[("Host", "evil.test")], "");
    assert_eq!(code, 421, "{body}");
    let (code, body) = raw(d.port, "GET", "/healthz", &[], "");
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let auth = bearer(&daemon_token(d.dir.path()));
    let (code, body) = raw(d.port, "GET", "/healthz", &[("Authorization", &auth)], "");
    assert_eq!(code, 200);
    assert!(body.starts_with("ok\n"), "{body}");
}

#[test]
fn a_token_file_others_can_read_stops_the_daemon_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), "");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("api-token"), "0123456789abcdef0123456789abcdef\n").unwrap();
    std::fs::set_permissions(
        data.join("api-token"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = run_until_exit(&config).expect("the daemon ran with a token file others can read");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(
        !err.contains("0123456789abcdef"),
        "the token reached the log: {err}"
    );
}
