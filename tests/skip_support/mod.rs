//! The one way a test says it did not run (or ran only in part) because something
//! it needs is not on this machine: printed to stderr and, when
//! `OVERHEAR_SKIP_LOG` names a file (`make test` sets it), appended to that file as
//! one line, so that `make test` ends with what was skipped and why instead of
//! counting the test as passed in silence. With `require` set in the environment
//! (`.ci/run` sets the OVERHEAR_REQUIRE_* ones) the test fails instead.
#![allow(dead_code)]

use std::io::Write;

/// Says that the running test is skipped because `why`, or panics when the
/// environment variable `require` is set (then what is missing is required).
pub fn skip(require: &str, why: &str) {
    assert!(
        std::env::var_os(require).is_none(),
        "{why}, and {require} is set"
    );
    record("skipped", why);
}

/// Records `what` (a part of the running test that did not run here) like a skip,
/// without failing where something is required.
pub fn note(what: &str) {
    record("ran in part", what);
}

fn record(kind: &str, what: &str) {
    // libtest names each test's thread after the test; the crate is the test target
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let line = format!("{}::{test} ({kind}): {what}\n", env!("CARGO_CRATE_NAME"));
    eprint!("{line}");
    if let Some(path) = std::env::var_os("OVERHEAR_SKIP_LOG") {
        // one write of one short line with O_APPEND: test processes running at once
        // do not interleave
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        if let Err(e) = f.and_then(|mut f| f.write_all(line.as_bytes())) {
            panic!("cannot record the skip in {path:?}: {e}");
        }
    }
}
