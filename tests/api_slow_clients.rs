//! Slow and idle clients cannot take the HTTP service down (issue 27, finding 2):
//! the real `overhear run` binary on loopback, held by hundreds of raw sockets that
//! trickle request bodies or send nothing, while `/healthz` and the login page are
//! asked for as a monitor and a user would.

mod api_support;
mod store_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use api_support::*;

/// Asks for `/healthz` on a fresh connection: the status, and how long it took
/// (`None`: no answer within `limit`).
fn healthz_within(port: u16, limit: Duration) -> Option<(u16, Duration)> {
    let t = Instant::now();
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), limit).ok()?;
    s.set_read_timeout(Some(limit)).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, t.elapsed()))
}

/// A `POST /login` announcing `len` bytes of body, of which only the first is sent.
fn slow_body(port: u16, len: usize) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\n\r\nn"
    );
    s.write_all(head.as_bytes()).unwrap();
    s
}

#[test]
fn two_hundred_slow_bodies_leave_healthz_answering_within_two_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), "");
    let d = start(dir, config, port);

    let mut slow: Vec<TcpStream> = (0..200).map(|_| slow_body(d.port, 100_000)).collect();
    let started = Instant::now();
    // one byte every 5 s on each, for as long as the test looks
    let mut next_byte = Instant::now() + Duration::from_secs(5);
    let mut answers = Vec::new();
    while started.elapsed() < Duration::from_secs(12) {
        let got = healthz_within(d.port, Duration::from_secs(2));
        assert!(
            matches!(got, Some((200, _))),
            "/healthz did not answer within 2 s while 200 slow bodies were held open \
             ({:?} into the attack): {got:?}",
            started.elapsed()
        );
        answers.push(got);
        // and a person can still reach the login page
        assert_eq!(raw_status(d.port, "GET", "/login", &[]), 200);
        if Instant::now() >= next_byte {
            for s in &mut slow {
                let _ = s.write_all(b"x");
            }
            next_byte += Duration::from_secs(5);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(answers.len() >= 10, "{answers:?}");

    // a body that trickles is cut off: 408, then the connection closes
    let s = &mut slow[0];
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "a trickling body was not cut off within {:?}: {text:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn past_the_connection_cap_healthz_still_answers_and_the_rest_waits_its_turn() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), "");
    let d = start(dir, config, port);
    let auth = bearer(&daemon_token(d.dir.path()));

    // every ordinary connection taken by a client that says nothing
    let idle: Vec<TcpStream> = (0..overhear::daemon::api::MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(("127.0.0.1", d.port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let got = healthz_within(d.port, Duration::from_secs(2));
    assert!(
        matches!(got, Some((200, _))),
        "/healthz past the connection cap: {got:?}"
    );
    // the API is not served on the spare connections: told to come back
    let (code, body) = raw(
        d.port,
        "GET",
        "/api/mentions",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(code, 503, "{body}");
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    let (code, body) = raw(
        d.port,
        "GET",
        "/api/mentions",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(code, 200, "{body}");
}
