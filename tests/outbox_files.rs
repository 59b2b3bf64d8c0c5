//! What the outbox leaves on disk: private files whatever the umask, and `.eml`
//! files that are durable (written, fsynced, renamed, folder fsynced) before the
//! alert is marked sent. The child halves run in a child process of this test binary.

mod skip_support;
#[path = "alerts_support/mod.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use overhear::alerts::{Clock, TestClock};
use overhear::store::Store;
use support::*;

fn child(name: &str, dir: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("OVERHEAR_TEST_CHILD_DIR", dir);
    c
}

/// Child: with umask 000, opens a store, queues one alert, sends it as a file.
#[test]
#[ignore = "run by other tests as a child process"]
fn child_send_one_alert_to_a_file() {
    let Ok(dir) = std::env::var("OVERHEAR_TEST_CHILD_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    if std::env::var_os("OVERHEAR_TEST_UMASK0").is_some() {
        // SAFETY: umask only changes this process's file creation mask
        unsafe { libc::umask(0) };
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = Store::open(&dir.join("data")).unwrap();
    let clock = Arc::new(TestClock::new(t(2026, 11, 23, 12, 5)));
    let alerter = acme_alerter("", &["support@acme.test"]);
    store
        .enqueue(&alerter.evaluate(&mention("1", 0.9), clock.now()))
        .unwrap();
    let mail = dir.join("mail");
    let s = sender_for(&store, &alerter, &file_email(&mail), &mail, clock);
    let rep = rt.block_on(s.deliver_due()).unwrap();
    assert_eq!(rep.sent.len(), 1);
    println!("SENT");
}

fn assert_sent(out: &std::process::Output) {
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("SENT"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap().path();
        if e.is_dir() {
            walk(&e, out);
        }
        out.push(e);
    }
}

#[test]
fn data_dir_mail_dir_and_outbox_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let out = child("child_send_one_alert_to_a_file", dir.path())
        .env("OVERHEAR_TEST_UMASK0", "1")
        .output()
        .unwrap();
    assert_sent(&out);
    let mut bad = Vec::new();
    for top in ["data", "mail"] {
        let top = dir.path().join(top);
        let mut all = vec![top.clone()];
        walk(&top, &mut all);
        for p in all {
            let want = if p.is_dir() { 0o700 } else { 0o600 };
            if mode(&p) != want {
                bad.push(format!("{} is {:o}", p.display(), mode(&p)));
            }
        }
    }
    assert!(bad.is_empty(), "not private under umask 000: {bad:#?}");
    let emls = std::fs::read_dir(dir.path().join("mail")).unwrap().count();
    assert_eq!(emls, 1, "one .eml, no temporary file left");
}

#[test]
fn eml_is_fsynced_and_renamed_into_place_before_it_is_marked_sent() {
    if Command::new("strace").arg("-V").output().is_err() {
        skip_support::skip(
            "OVERHEAR_REQUIRE_STRACE",
            "strace is not installed (apt-get install strace): the fsync order is not checked",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
        ])
        .arg("-o")
        .arg(&trace)
        .arg(&exe)
        .args([
            "--exact",
            "child_send_one_alert_to_a_file",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("OVERHEAR_TEST_CHILD_DIR", dir.path())
        .output()
        .unwrap();
    assert_sent(&out);
    let calls: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| {
            l.split_once(' ')
                .map_or(l, |(_, rest)| rest)
                .trim()
                .to_string()
        })
        .collect();
    let mail = dir.path().join("mail").display().to_string();
    // the fd the .eml was written through, and where the final file appeared
    let opened = calls
        .iter()
        .position(|c| c.starts_with("openat(") && c.contains(&mail) && c.contains("O_WRONLY"))
        .unwrap_or_else(|| panic!("no write-open in {mail}: {calls:#?}"));
    let fd = calls[opened]
        .rsplit("= ")
        .next()
        .unwrap()
        .trim()
        .to_string();
    let synced = calls[opened..].iter().position(|c| {
        c.starts_with(&format!("fsync({fd})")) || c.starts_with(&format!("fdatasync({fd})"))
    });
    let renamed = calls[opened..]
        .iter()
        .position(|c| c.starts_with("rename") && c.contains(".eml\""));
    assert!(
        matches!((synced, renamed), (Some(s), Some(r)) if s < r),
        "the .eml must be fsynced, then renamed into place: {:#?}",
        &calls[opened..]
    );
    let r = opened + renamed.unwrap_or(0);
    let dir_synced = calls[r..].windows(2).any(|w| {
        w[0].starts_with("openat(") && w[0].contains(&format!("\"{mail}\"")) && {
            let dfd = w[0].rsplit("= ").next().unwrap().trim();
            w[1].starts_with(&format!("fsync({dfd})"))
        }
    });
    assert!(
        dir_synced,
        "then the mail folder is fsynced: {:#?}",
        &calls[r..]
    );
}
