//! `overhear mentions ack|resolve|dismiss|reopen` and the status filters: against a
//! real database (no daemon), then against the real `overhear run` daemon with an
//! API token, where the CLI goes through `POST /api/mentions/{id}/{action}`; after
//! both, `db check` is clean and the states are on disk.

mod api_support;
mod store_support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use api_support::*;
use overhear::store::{Status, Store, StoredMention, Via};
use serde_json::{json, Value};
use store_support::{brand, post, sentiment};

fn refused(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn listed(o: &Output) -> Vec<String> {
    let rows: Vec<StoredMention> = serde_json::from_str(&ok(o)).unwrap();
    rows.into_iter().map(|m| m.id).collect()
}

/// Four mentions of Acme, the first two negative; their ids, newest first.
fn fill_four(data: &Path) -> Vec<String> {
    let s = Store::open(data).unwrap();
    let now = chrono::Utc::now();
    let mut ids = Vec::new();
    for i in 0..4i64 {
        let p = post(
            "hackernews",
            &i.to_string(),
            &format!("https://e.test/{i}"),
            "acme lost my order",
            now - chrono::Duration::minutes(i),
        );
        let id = s.upsert_mention(&p, &[brand("Acme")], now).unwrap();
        let label = if i < 2 { "negative" } else { "neutral" };
        s.set_sentiment(id.id(), &sentiment(label, 0.9)).unwrap();
        ids.push(id.id().to_string());
    }
    ids
}

#[test]
fn triage_commands_change_the_database_when_no_daemon_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &format!("127.0.0.1:{}", free_port()), "");
    let ids = fill_four(&dir.path().join("data"));
    let list = |extra: &[&str]| {
        let mut args = vec!["mentions", "list", "--json"];
        args.extend_from_slice(extra);
        listed(&overhear(&cfg, &args))
    };
    let inbox = ["--status", "new", "--sentiment", "negative"];
    assert_eq!(list(&inbox), vec![ids[0].clone(), ids[1].clone()]);

    let out = ok(&overhear(
        &cfg,
        &["mentions", "ack", &ids[0], "--as", "dana"],
    ));
    assert_eq!(
        out.trim(),
        format!("{}: new -> acknowledged (dana)", ids[0])
    );
    assert_eq!(list(&inbox), vec![ids[1].clone()]);
    assert_eq!(list(&["--status", "acknowledged"]), vec![ids[0].clone()]);
    assert_eq!(list(&["--assignee", "dana"]), vec![ids[0].clone()]);
    assert!(list(&["--assignee", "lee"]).is_empty());

    let o = overhear(
        &cfg,
        &[
            "mentions",
            "resolve",
            &ids[0],
            "--note",
            "replied on HN",
            "--as",
            "dana",
        ],
    );
    assert!(ok(&o).contains("acknowledged -> resolved (dana)"));
    let e = refused(&overhear(
        &cfg,
        &["mentions", "dismiss", &ids[0], "--reason", "not-relevant"],
    ));
    assert!(
        e.contains("cannot dismiss mention") && e.contains("reopen it first"),
        "{e}"
    );
    let e = refused(&overhear(&cfg, &["mentions", "resolve", &ids[0]]));
    assert!(e.contains("already resolved"), "{e}");
    // by post id, with the name from $USER
    ok(&overhear(&cfg, &["mentions", "reopen", "hackernews:0"]));
    let o = overhear(
        &cfg,
        &[
            "mentions",
            "dismiss",
            &ids[1],
            "--reason",
            "not-negative",
            "--label",
            "positive",
            "--as",
            "lee",
        ],
    );
    ok(&o);
    let e = refused(&overhear(&cfg, &["mentions", "ack", "0000000000000000"]));
    assert!(e.contains("no mention"), "{e}");
    let e = String::from_utf8_lossy(
        &overhear(
            &cfg,
            &["mentions", "dismiss", &ids[2], "--reason", "boring"],
        )
        .stderr,
    )
    .into_owned();
    assert!(e.contains("not-relevant") && e.contains("duplicate"), "{e}");

    let m: StoredMention = serde_json::from_str(&ok(&overhear(
        &cfg,
        &["mentions", "show", &ids[0], "--json"],
    )))
    .unwrap();
    assert_eq!(m.triage.status, Status::New);
    let steps: Vec<(&str, Status, Via)> = m
        .triage
        .history
        .iter()
        .map(|c| (c.by.as_str(), c.to, c.via))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("dana", Status::Acknowledged, Via::Cli),
            ("dana", Status::Resolved, Via::Cli),
            ("tester", Status::New, Via::Cli),
        ]
    );
    assert_eq!(m.triage.history[1].note.as_deref(), Some("replied on HN"));
    let text = ok(&overhear(&cfg, &["mentions", "show", &ids[0]]));
    assert!(text.contains("status:     new\n"), "{text}");
    assert!(
        text.contains("history:")
            && text.contains("dana via cli: acknowledged -> resolved \"replied on HN\""),
        "{text}"
    );
    let v: Value = serde_json::from_str(&ok(&overhear(
        &cfg,
        &["mentions", "show", &ids[1], "--json"],
    )))
    .unwrap();
    assert_eq!(
        (&v["status"], &v["reason"], &v["assignee"]),
        (&json!("dismissed"), &json!("not-negative"), &Value::Null)
    );
    let csv = ok(&overhear(&cfg, &["mentions", "export", "--format", "csv"]));
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .ends_with(",status,assignee,answered_at,answered_by,answer_url"),
        "{csv}"
    );
    assert!(csv.contains(",dismissed,"), "{csv}");

    let check = ok(&overhear(&cfg, &["db", "check"]));
    assert!(
        check.contains("4 mentions (1 dismissed, 3 new)") && check.contains("1 feedback: ok"),
        "{check}"
    );
    let s = Store::open(&dir.path().join("data")).unwrap();
    let fb = s.feedback().unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(
        (
            fb[0].mention.as_str(),
            fb[0].corrected.as_str(),
            fb[0].by.as_str()
        ),
        (ids[1].as_str(), "positive", "lee")
    );
}

/// `POST path` with `body` and `headers`: the status and the body.
fn post_json(d: &Daemon, path: &str, body: Value, headers: &[(&str, &str)]) -> (u16, String) {
    block(async {
        let mut req = client(Duration::from_secs(30))
            .post(d.url(path))
            .json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn triage_commands_go_through_the_daemon_api_with_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let extra = format!("api_token_env = \"{TOKEN_ENV}\"");
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), &extra);
    let ids = fill_four(&dir.path().join("data"));
    let d = start(dir, config, port);
    let run = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_overhear"));
        c.arg("--config").arg(&d.config).args(args);
        c.env(TOKEN_ENV, TOKEN)
            .env("USER", "tester")
            .output()
            .unwrap()
    };

    let out = ok(&run(&["mentions", "ack", &ids[0], "--as", "dana"]));
    assert_eq!(
        out.trim(),
        format!("{}: new -> acknowledged (dana)", ids[0])
    );
    let e = refused(&cli(&d, &["mentions", "ack", &ids[1]], None));
    assert!(e.contains("401"), "{e}");
    ok(&run(&[
        "mentions",
        "resolve",
        &ids[0],
        "--note",
        "replied on HN",
    ]));
    let e = refused(&run(&["mentions", "ack", &ids[0]]));
    assert!(
        e.contains("cannot ack") && e.contains("reopen it first"),
        "{e}"
    );
    let e = refused(&run(&["mentions", "reopen", "0000000000000000"]));
    assert!(e.contains("no mention"), "{e}");
    ok(&run(&["mentions", "dismiss", &ids[1], "--reason", "spam"]));
    assert_eq!(
        listed(&run(&[
            "mentions", "list", "--status", "resolved", "--json"
        ])),
        vec![ids[0].clone()]
    );
    // resolve keeps the assignee: dana acked it, tester resolved it
    assert_eq!(
        listed(&run(&["mentions", "list", "--assignee", "dana", "--json"])),
        vec![ids[0].clone()]
    );
    assert!(listed(&run(&[
        "mentions",
        "list",
        "--assignee",
        "tester",
        "--json"
    ]))
    .is_empty());

    // the route itself: behind the token, never cross-site, typed refusals
    let auth = bearer(TOKEN);
    let with = [("Authorization", auth.as_str())];
    let path = format!("/api/mentions/{}/ack", ids[2]);
    let body = json!({"by": "bot"});
    assert_eq!(post_json(&d, &path, body.clone(), &[]).0, 401);
    let cross = [with[0], ("Origin", "http://evil.test")];
    assert_eq!(post_json(&d, &path, body.clone(), &cross).0, 403);
    let (code, text) = post_json(&d, &path, body.clone(), &with);
    assert_eq!(code, 200, "{text}");
    let m: StoredMention = serde_json::from_str(&text).unwrap();
    assert_eq!(m.triage.history[0].via, Via::Api);
    assert_eq!(m.triage.assignee.as_deref(), Some("bot"));
    assert_eq!(post_json(&d, &path, body.clone(), &with).0, 409);
    let dismiss = format!("/api/mentions/{}/dismiss", ids[3]);
    assert_eq!(post_json(&d, &dismiss, body.clone(), &with).0, 400);
    let bad = json!({"by": "bot", "reason": "boring"});
    assert_eq!(post_json(&d, &dismiss, bad, &with).0, 422);
    let nobody = "/api/mentions/0000000000000000/ack";
    assert_eq!(post_json(&d, nobody, body.clone(), &with).0, 404);
    let odd = format!("/api/mentions/{}/promote", ids[3]);
    assert_eq!(post_json(&d, &odd, body, &with).0, 400);

    let v: Value =
        serde_json::from_slice(&ok(&run(&["mentions", "show", &ids[0], "--json"])).into_bytes())
            .unwrap();
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["note"], "replied on HN");
    assert_eq!(v["history"][1]["by"], "tester");
    assert_eq!(v["history"][1]["via"], "cli");

    // stopped, the database agrees with itself and kept every state
    let mut d = d;
    stop(&mut d);
    let check = ok(&overhear(&d.config, &["db", "check"]));
    assert!(
        check.contains("ok") && check.contains("1 resolved"),
        "{check}"
    );
    let s = Store::open(&d.dir.path().join("data")).unwrap();
    let states: Vec<Status> = ids
        .iter()
        .map(|id| s.get_stored(id).unwrap().unwrap().triage.status)
        .collect();
    assert_eq!(
        states,
        vec![
            Status::Resolved,
            Status::Dismissed,
            Status::Acknowledged,
            Status::New
        ]
    );
}
