//! Full-text search against a real database and index: `overhear db reindex` and
//! `overhear mentions search` with no daemon (phrases, NOT, brand:, dates, syntax
//! errors, a deleted index, retention and triage keeping the index current), then
//! through a real `overhear run` daemon's API with its token (`/api/mentions?q=`,
//! the CLI through it, the index built at start, updated by triage changes,
//! rebuilt when damaged).

mod api_support;
mod store_support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use api_support::*;
use chrono::Utc;
use overhear::store::{Store, StoredMention};
use store_support::{brand, post, sentiment};

fn ids(o: &Output) -> Vec<String> {
    let rows: Vec<StoredMention> = serde_json::from_str(&ok(o)).unwrap();
    rows.into_iter().map(|m| m.id).collect()
}

/// Six mentions (Acme unless said), newest first in this order; their ids.
fn fill_six(data: &Path) -> Vec<String> {
    let s = Store::open(data).unwrap();
    let now = Utc::now();
    let items = [
        ("reddit", "I want a refund, acme lost my order", 1, "Acme"),
        (
            "hackernews",
            "refund came quickly but shipping took weeks",
            2,
            "Acme",
        ),
        ("reddit", "acme support lost my order again", 3, "Acme"),
        ("rss", "globex refunds are painless", 4, "Globex"),
        (
            "mastodon",
            "acme: refund denied, never again",
            24 * 40,
            "Acme",
        ),
        ("rss", "nothing to see here", 24 * 50, "Acme"),
    ];
    let mut out = Vec::new();
    for (i, (source, text, hours, b)) in items.iter().enumerate() {
        let p = post(
            source,
            &i.to_string(),
            &format!("https://e.test/{i}"),
            text,
            now - chrono::Duration::hours(*hours),
        );
        let u = s.upsert_mention(&p, &[brand(b)], now).unwrap();
        s.set_sentiment(u.id(), &sentiment("negative", 0.9))
            .unwrap();
        out.push(u.id().to_string());
    }
    out
}

fn pick(all: &[String], which: &[usize]) -> Vec<String> {
    which.iter().map(|i| all[*i].clone()).collect()
}

#[test]
fn search_commands_work_on_the_database_when_no_daemon_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), &format!("127.0.0.1:{}", free_port()), "");
    let data = dir.path().join("data");
    let all = fill_six(&data);
    let search = |args: &[&str]| {
        let mut a = vec!["mentions", "search"];
        a.extend_from_slice(args);
        a.push("--json");
        ids(&overhear(&cfg, &a))
    };

    // no index yet: say how to get one
    let o = overhear(&cfg, &["mentions", "search", "refund"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no search index") && e.contains("db reindex"),
        "{e}"
    );

    let out = ok(&overhear(&cfg, &["db", "reindex"]));
    assert!(out.contains("indexed 6 mentions"), "{out}");
    assert!(data.join("search").join("meta.json").exists());

    assert_eq!(search(&["refund NOT shipping"]), pick(&all, &[0, 3, 4]));
    assert_eq!(
        search(&["refund -shipping", "--since", "30d"]),
        pick(&all, &[0, 3])
    );
    assert_eq!(
        search(&["refund", "--since", "30d", "--brand", "acme"]),
        pick(&all, &[0, 1])
    );
    assert_eq!(search(&["\"lost my order\""]), pick(&all, &[0, 2]));
    assert_eq!(search(&["\"my lost order\""]), Vec::<String>::new());
    assert_eq!(search(&["brand:Globex OR nothing"]), pick(&all, &[3, 5]));
    assert_eq!(search(&["source:reddit lost"]), pick(&all, &[0, 2]));
    assert_eq!(search(&["refund", "--until", "30d"]), pick(&all, &[4]));
    assert_eq!(search(&["refund", "--limit", "2"]), pick(&all, &[0, 1]));
    let best = search(&["refund OR order", "--sort", "relevance", "--limit", "1"]);
    assert_eq!(best, pick(&all, &[0]));
    let table = ok(&overhear(&cfg, &["mentions", "search", "globex"]));
    assert!(
        table.starts_with("ID") && table.contains(&all[3]),
        "{table}"
    );

    // a syntax error says where, before anything is opened
    let o = overhear(&cfg, &["mentions", "search", "refund AND (late"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("query syntax error at column 12") && e.contains("never closed"),
        "{e}"
    );

    // triage and retention keep the index current
    ok(&overhear(
        &cfg,
        &["mentions", "ack", &all[2], "--as", "dana"],
    ));
    assert_eq!(
        search(&["status:acknowledged assignee:dana"]),
        pick(&all, &[2])
    );
    assert_eq!(search(&["lost", "--status", "new"]), pick(&all, &[0]));
    ok(&overhear(&cfg, &["db", "retention", "--keep", "45d"]));
    assert_eq!(search(&["refund OR nothing"]), pick(&all, &[0, 1, 3, 4]));
    ok(&overhear(&cfg, &["db", "retention", "--keep", "30d"]));
    assert_eq!(search(&["refund OR nothing"]), pick(&all, &[0, 1, 3]));

    // a deleted index is rebuilt by reindex
    std::fs::remove_dir_all(data.join("search")).unwrap();
    let out = ok(&overhear(&cfg, &["db", "reindex"]));
    assert!(out.contains("indexed 4 mentions"), "{out}");
    assert_eq!(search(&["lost"]), pick(&all, &[0, 2]));
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn get(d: &Daemon, path: &str, token: Option<&str>) -> (u16, String) {
    block(async {
        let mut req = client(Duration::from_secs(30)).get(d.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", bearer(t));
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn search_goes_through_the_daemon_api_with_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let extra = format!("api_token_env = \"{TOKEN_ENV}\"");
    let config = write_config(dir.path(), &format!("127.0.0.1:{port}"), &extra);
    let data = dir.path().join("data");
    let all = fill_six(&data);
    let mut d = start(dir, config, port);
    let run = |d: &Daemon, args: &[&str]| cli(d, args, Some(TOKEN));
    let q = |d: &Daemon, query: &str| {
        let mut a = vec!["mentions", "search", query, "--json"];
        a.push("--limit");
        a.push("100");
        ids(&run(d, &a))
    };

    // the daemon found no index: it builds one from the database in the background
    wait_for("the catch-up", || q(&d, "refund OR nothing").len() == 5);
    assert!(d.log().contains("no search index yet"), "{}", d.log());
    assert_eq!(q(&d, "refund NOT shipping"), pick(&all, &[0, 3, 4]));

    // the route: same JSON and cursors as /api/mentions, q with the other filters
    let url = d.url("/api/mentions?q=refund%20OR%20lost&brand=Acme&limit=2");
    let (first, next) = page(&url);
    assert_eq!(first, pick(&all, &[0, 1]));
    let cursor = next.expect("a next page");
    let (second, next) = page(&format!("{url}&cursor={cursor}"));
    assert_eq!(second, pick(&all, &[2, 4]));
    assert!(next.is_none());
    let (rel, next) = page(&d.url("/api/mentions?q=lost%20order&sort=relevance"));
    assert_eq!(rel.len(), 2);
    assert!(next.is_none());
    assert_eq!(get(&d, "/api/mentions?q=refund", None).0, 401);
    let (code, body) = get(&d, "/api/mentions?q=%22unclosed", Some(TOKEN));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("column 1"), "{body}");
    let o = cli(&d, &["mentions", "search", "refund"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("401"));

    // a triage change through the API is searchable within a second or two
    ok(&run(&d, &["mentions", "ack", &all[1], "--as", "dana"]));
    wait_for("the ack in the index", || {
        q(&d, "status:acknowledged") == pick(&all, &[1])
    });
    let metrics = get(&d, "/metrics", Some(TOKEN)).1;
    assert!(
        metrics.contains("# TYPE overhear_search_errors_total counter"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("overhear_search_errors_total{"),
        "{metrics}"
    );

    // stopped, the index on disk has everything (the last commit at shutdown)
    stop(&mut d);
    let cfg = d.config.clone();
    let direct = ids(&overhear(
        &cfg,
        &["mentions", "search", "status:acknowledged", "--json"],
    ));
    assert_eq!(direct, pick(&all, &[1]));

    // a damaged index is rebuilt at the next start, and says so
    std::fs::write(data.join("search").join("meta.json"), b"garbage").unwrap();
    let port2 = free_port();
    let config2 = write_config(
        d.dir.path(),
        &format!("127.0.0.1:{port2}"),
        &format!("api_token_env = \"{TOKEN_ENV}\""),
    );
    let dir = std::mem::replace(&mut d.dir, tempfile::tempdir().unwrap());
    drop(d);
    let d = start(dir, config2, port2);
    wait_for("the rebuild", || {
        q(&d, "status:acknowledged") == pick(&all, &[1])
    });
    assert!(
        d.log().contains("the search index cannot be used"),
        "{}",
        d.log()
    );
}
