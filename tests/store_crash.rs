//! kill -9 during a burst of writes: every write the store acknowledged is there
//! exactly once after reopening, every triage change it acknowledged (ack, resolve,
//! a not-negative dismissal and its feedback) is still in force, the status index
//! agrees, and the database passes `check`.
//!
//! The test binary re-executes itself as the writer (`crash_child_writer`, switched
//! on by an environment variable), which prints each acknowledged write to stdout
//! after the store call returns; the parent kills it at a random moment, 20 rounds.

mod store_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use overhear::store::{
    Action, DismissReason, MentionFilter, Status, Store, StoreError, Transition, Upsert, Via,
};
use rand::Rng;
use store_support::*;

const CHILD_DIR: &str = "OVERHEAR_STORE_CRASH_CHILD_DIR";
const CHILD_ROUND: &str = "OVERHEAR_STORE_CRASH_CHILD_ROUND";

/// The writer. Does nothing unless the parent test started it.
#[test]
fn crash_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let round: u32 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let s = Store::open(std::path::Path::new(&dir)).unwrap();
    let now = chrono::Utc::now();
    for i in 0..200_000u32 {
        let url = format!("https://example.com/{round}/{i}");
        let p = post(
            "rss",
            &format!("{round}-{i}"),
            &url,
            "acme did a thing",
            at(i64::from(i)),
        );
        let u = s.upsert_mention(&p, &[brand("Acme")], now).unwrap();
        println!("ACK {} {}", u.id(), p.id);
        if i % 3 == 0 {
            // the same URL from another source: merged into the same mention
            let dup = post(
                "hackernews",
                &format!("{round}-{i}"),
                &url,
                "acme!",
                at(i64::from(i)),
            );
            let d = s.upsert_mention(&dup, &[brand("Globex")], now).unwrap();
            assert_eq!(d.id(), u.id());
            println!("DUP {} {}", d.id(), dup.id);
        }
        if i % 4 == 0 {
            s.set_sentiment(u.id(), &sentiment("negative", 0.9))
                .unwrap();
            println!("SENT {}", u.id());
        }
        if i % 5 == 0 {
            // said before the edit: a kill after it is applied but before it is
            // acknowledged leaves an edit (and a cleared sentiment) nobody was told of
            println!("EDITING {}", u.id());
            let mut edited = p.clone();
            edited.text = "acme did another thing".into();
            let e = s.upsert_mention(&edited, &[brand("Acme")], now).unwrap();
            assert!(
                matches!(
                    e,
                    Upsert::Updated {
                        text_changed: true,
                        ..
                    }
                ),
                "{e:?}"
            );
            println!("EDIT {}", e.id());
        }
        let change = |action, note: Option<&str>| Transition {
            action,
            by: "dana".into(),
            via: Via::Cli,
            note: note.map(str::to_string),
            corrected: None,
        };
        match i % 6 {
            0 | 1 => {
                s.triage(u.id(), &change(Action::Ack, None), now).unwrap();
                println!("ACKED {}", u.id());
                if i % 6 == 1 {
                    println!("RESOLVING {}", u.id());
                    s.triage(u.id(), &change(Action::Resolve, Some("done")), now)
                        .unwrap();
                    println!("RESOLVED {}", u.id());
                }
            }
            2 => {
                let d = change(Action::Dismiss(DismissReason::NotNegative), None);
                s.triage(u.id(), &d, now).unwrap();
                println!("DISMISSED {}", u.id());
            }
            _ => {}
        }
    }
}

/// Every triage change reported done is in force, and the status index lists each
/// mention under its state only.
fn check_triage(
    s: &Store,
    round: u32,
    acked: &[String],
    resolving: &[String],
    resolved: &[String],
    dismissed: &[String],
) {
    let state = |id: &String| s.get_stored(id).unwrap().unwrap().triage;
    for id in acked {
        let t = state(id);
        let ok = t.status == Status::Acknowledged
            || (t.status == Status::Resolved && resolving.contains(id));
        assert!(ok, "round {round}: {id} is {}", t.status);
        assert_eq!(t.assignee.as_deref(), Some("dana"), "round {round}: {id}");
    }
    for id in resolved {
        let t = state(id);
        assert_eq!(t.status, Status::Resolved, "round {round}: {id}");
        assert_eq!(t.note.as_deref(), Some("done"));
        assert_eq!(t.history.len(), 2, "round {round}: {id}");
    }
    let feedback: Vec<String> = s
        .feedback()
        .unwrap()
        .into_iter()
        .map(|f| f.mention)
        .collect();
    for id in dismissed {
        assert_eq!(state(id).status, Status::Dismissed, "round {round}: {id}");
        assert!(feedback.contains(id), "round {round}: no feedback for {id}");
    }
    let mut listed = 0;
    for st in Status::ALL {
        let f = MentionFilter {
            status: Some(st),
            ..Default::default()
        };
        for m in s.list_stored(&f).unwrap() {
            assert_eq!(
                m.triage.status, st,
                "round {round}: {} listed as {st}",
                m.id
            );
            listed += 1;
        }
    }
    assert_eq!(
        listed,
        s.len(),
        "round {round}: the status index lists every mention once"
    );
}

fn reopen(dir: &std::path::Path) -> Store {
    let start = Instant::now();
    loop {
        match Store::open(dir) {
            Err(StoreError::Locked(_)) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            r => return r.unwrap(),
        }
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let exe = std::env::current_exe().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    // post id -> mention id, and what else must hold for it
    let mut acked: HashMap<String, String> = HashMap::new();
    let mut dups: HashMap<String, String> = HashMap::new();
    let mut classified: Vec<String> = Vec::new();
    let mut edited: Vec<String> = Vec::new();
    let mut editing: Vec<String> = Vec::new();
    let (mut triaged, mut resolving, mut resolved, mut dismissed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..20u32 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        // wait for the burst to start, then kill at a random point in it
        let start = Instant::now();
        let started = |l: &Vec<String>| l.iter().any(|l| l.starts_with("ACK "));
        while !started(&lines.lock().unwrap()) && start.elapsed() < Duration::from_secs(30) {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("round {round}: the writer exited by itself ({status})");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..300)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let lines = lines.lock().unwrap().clone();
        let mut n = 0;
        for line in &lines {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["ACK", id, post] => {
                    acked.insert(post.to_string(), id.to_string());
                    n += 1;
                }
                ["DUP", id, post] => {
                    dups.insert(post.to_string(), id.to_string());
                }
                ["SENT", id] => classified.push(id.to_string()),
                ["EDIT", id] => edited.push(id.to_string()),
                ["EDITING", id] => editing.push(id.to_string()),
                ["ACKED", id] => triaged.push(id.to_string()),
                ["RESOLVING", id] => resolving.push(id.to_string()),
                ["RESOLVED", id] => resolved.push(id.to_string()),
                ["DISMISSED", id] => dismissed.push(id.to_string()),
                _ => {}
            }
        }
        assert!(n > 0, "round {round}: the writer acknowledged nothing");

        let s = reopen(dir.path());
        let report = s.check().unwrap();
        assert!(report.is_ok(), "round {round}: {report:?}");
        for (post, id) in acked.iter().chain(dups.iter()) {
            assert_eq!(
                s.resolve(post).unwrap().as_deref(),
                Some(id.as_str()),
                "round {round}: {post}"
            );
            assert!(s.get(id).unwrap().is_some(), "round {round}: {id} lost");
        }
        for id in &classified {
            let m = s.get(id).unwrap().unwrap();
            // an edit started after classification may have cleared it again
            assert!(
                m.sentiment.is_some() || editing.contains(id),
                "round {round}: {id}"
            );
        }
        for id in &edited {
            assert_eq!(
                s.get(id).unwrap().unwrap().post.text,
                "acme did another thing"
            );
        }
        // exactly once: no post id is stored under two mentions
        let all = s.list(&MentionFilter::default()).unwrap();
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for m in &all {
            *seen.entry(m.post.id.as_str()).or_default() += 1;
        }
        assert!(
            seen.values().all(|&c| c == 1),
            "round {round}: a post stored twice"
        );
        for post in acked.keys() {
            assert_eq!(seen.get(post.as_str()), Some(&1), "round {round}: {post}");
        }
        for post in dups.keys() {
            assert_eq!(
                seen.get(post.as_str()),
                None,
                "round {round}: duplicate {post} stored apart"
            );
        }
        assert_eq!(all.len(), s.len());
        check_triage(&s, round, &triaged, &resolving, &resolved, &dismissed);
    }
    assert!(acked.len() >= 20);
    assert!(!triaged.is_empty() && !resolved.is_empty() && !dismissed.is_empty());
    eprintln!("{} acknowledged mentions over 20 kills", acked.len());
}
