//! Who can reach the local API: the real `overhear run` binary with the bundled
//! model on loopback, asked by raw HTTP clients the way a stranger, a web page or a
//! DNS-rebinding attack would (no token, a wrong token, a foreign `Host`, a
//! cross-site `Origin`), and by the CLI with the token from the config.

mod api_support;
mod store_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use api_support::*;
use overhear::store::StoredMention;
use serde_json::Value;

#[test]
fn with_a_token_only_its_holder_reads_the_api_and_pages_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let extra = format!("api_token_env = \"{TOKEN_ENV}\"");
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), &extra);
    fill(&dir.path().join("data"), 1205);
    let d = start(dir, config, port);
    let auth = bearer(TOKEN);
    let auth = auth.as_str();

    let wrong = ("Authorization", "Bearer wrong-token-0123456789abcdef");
    let basic = ("Authorization", "Basic dXNlcjpwYXNz");
    let right = ("Authorization", auth);
    let own = format!("http://127.0.0.1:{}", d.port);
    let mut cases: Vec<Case> = vec![("GET", "/healthz", vec![], 200)];
    // the API and the metrics want the token; the inbox's pages want a session
    cases.push(("GET", "/", vec![], 303));
    cases.push(("GET", "/nothing-here", vec![], 404));
    for path in ["/api/mentions", "/api/stats", "/api/users", "/metrics"] {
        cases.push(("GET", path, vec![], 401));
        cases.push(("GET", path, vec![wrong], 401));
        cases.push(("GET", path, vec![basic], 401));
    }
    cases.extend([
        ("GET", "/api/mentions", vec![right], 200),
        ("GET", "/api/stats", vec![right], 200),
        ("GET", "/metrics", vec![right], 200),
        ("GET", "/nothing-here", vec![right], 404),
        ("POST", "/api/reload", vec![], 401),
        ("POST", "/api/reload", vec![right], 200),
        // DNS rebinding: a foreign Host is refused even with the token
        (
            "GET",
            "/api/mentions",
            vec![right, ("Host", "evil.test:7878")],
            421,
        ),
        (
            "GET",
            "/api/mentions",
            vec![right, ("Host", "localhost")],
            200,
        ),
        // state changes: POST only, never from another site
        ("GET", "/api/reload", vec![right], 405),
        (
            "POST",
            "/api/reload",
            vec![right, ("Origin", "http://evil.test")],
            403,
        ),
        (
            "POST",
            "/api/reload",
            vec![right, ("Sec-Fetch-Site", "cross-site")],
            403,
        ),
        (
            "POST",
            "/api/reload",
            vec![right, ("Origin", own.as_str())],
            200,
        ),
        ("GET", "/api/mentions?cursor=garbage", vec![right], 400),
    ]);
    expect(d.port, &cases);

    // pages: 50 by default, at most 1,000, and the cursor walks through all of them
    let (first, next) = page(&d.url("/api/mentions"));
    assert_eq!(first.len(), 50);
    assert!(next.is_some());
    let (big, _) = page(&d.url("/api/mentions?limit=5000"));
    assert_eq!(big.len(), 1000);
    let mut all = Vec::new();
    let mut url = d.url("/api/mentions?limit=7");
    loop {
        let (ids, next) = page(&url);
        assert!(ids.len() <= 7);
        all.extend(ids);
        match next {
            Some(c) => url = d.url(&format!("/api/mentions?limit=7&cursor={c}")),
            None => break,
        }
    }
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((all.len(), unique.len()), (1205, 1205));
    assert_eq!(all[..50], first[..]);
    // the CLI sends the token from the config and follows the cursors
    let out = cli(
        &d,
        &["mentions", "export", "--format", "ndjson"],
        Some(TOKEN),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1205);
    let out = cli(
        &d,
        &["mentions", "list", "--limit", "1100", "--json"],
        Some(TOKEN),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<StoredMention> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1100);
    let out = cli(&d, &["stats", "--json"], Some(TOKEN));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // without the token the CLI says what is missing, and never the token itself
    let out = cli(&d, &["mentions", "list"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(TOKEN_ENV), "{err}");
    let out = cli(&d, &["mentions", "list"], Some("not-the-token-0123456789"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("401") && !err.contains("not-the-token"),
        "{err}"
    );

    assert!(!d.log().contains(TOKEN), "the token reached the log");
}

#[test]
fn without_a_configured_token_the_daemons_own_is_wanted_and_other_hosts_and_sites_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), "");
    let d = start(dir, config, port);
    let auth = bearer(&daemon_token(d.dir.path()));
    let right = ("Authorization", auth.as_str());

    let evil = ("Host", "evil.test");
    expect(
        d.port,
        &[
            // loopback is no credential: every local user and process is a stranger
            ("GET", "/api/mentions", vec![], 401),
            ("GET", "/metrics", vec![], 401),
            ("POST", "/api/reload", vec![], 401),
            ("GET", "/api/mentions", vec![right], 200),
            ("GET", "/metrics", vec![right], 200),
            // DNS rebinding: evil.test resolving to 127.0.0.1
            ("GET", "/api/mentions", vec![right, evil], 421),
            ("GET", "/api/stats", vec![right, evil], 421),
            ("GET", "/metrics", vec![right, evil], 421),
            ("GET", "/healthz", vec![evil], 421),
            ("POST", "/api/reload", vec![right, evil], 421),
            // a web page posting to the daemon (a "simple request": no preflight)
            (
                "POST",
                "/api/reload",
                vec![right, ("Origin", "https://evil.test")],
                403,
            ),
            ("POST", "/api/reload", vec![right, ("Origin", "null")], 403),
            (
                "POST",
                "/api/reload",
                vec![right, ("Sec-Fetch-Site", "cross-site")],
                403,
            ),
            ("GET", "/api/reload", vec![right], 405),
        ],
    );
    assert!(!d.log().contains("configuration reloaded"), "{}", d.log());
    // curl with the token is neither
    expect(d.port, &[("POST", "/api/reload", vec![right], 200)]);
    let v: Value = block(async {
        let r = client(Duration::from_secs(30))
            .get(d.url("/api/mentions"))
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    });
    assert!(v["mentions"].as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn a_token_file_public_metrics_a_public_url_and_a_bounded_listener() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let token_file = dir.path().join("api-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let extra = format!(
        "api_token_file = \"{}\"\nmetrics_public = true\npublic_url = \"https://overhear.example.com/\"",
        token_file.display()
    );
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), &extra);
    let d = start(dir, config, port);
    let auth = bearer(TOKEN);

    let right = ("Authorization", auth.as_str());
    expect(
        d.port,
        &[
            ("GET", "/metrics", vec![], 200),
            ("GET", "/api/mentions", vec![], 401),
            (
                "GET",
                "/api/mentions",
                vec![right, ("Host", "overhear.example.com")],
                200,
            ),
            (
                "GET",
                "/api/mentions",
                vec![right, ("Host", "example.com")],
                421,
            ),
        ],
    );

    // a client that never finishes its headers is cut off
    let mut slow = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(25)))
        .unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 256];
    let n = slow.read(&mut buf).unwrap_or(0);
    assert!(
        t.elapsed() < Duration::from_secs(25),
        "a half-sent request held its connection for {:?}",
        t.elapsed()
    );
    let _ = n;
}

#[test]
fn a_non_loopback_bind_without_a_token_is_refused_by_check_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), &format!("0.0.0.0:{port}"), "");
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("check")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("api_token_env") && err.contains("api_bind"),
        "{err}"
    );

    let out = run_until_exit(&config).expect("overhear run started on 0.0.0.0 without a token");
    let status = out.status;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success());
    assert!(err.contains("api_token_env"), "{err}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());

    // with a token configured, both accept it
    let extra = format!("api_token_env = \"{TOKEN_ENV}\"");
    let config = write_config(dir.path(), &format!("0.0.0.0:{port}"), &extra);
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("check")
        .arg(&config)
        .env(TOKEN_ENV, TOKEN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(TOKEN));
}
