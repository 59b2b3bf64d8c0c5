//! `overhear mentions|stats|db` against a real database, directly and through the
//! daemon's read API (served here by `api_router` while this process holds the
//! database, as the daemon would).

mod store_support;

use std::path::Path;
use std::process::Command;

use overhear::store::{api_router, Store, StoredMention};
use store_support::*;

fn config(dir: &Path, api_port: u16) -> std::path::PathBuf {
    let path = dir.join("overhear.toml");
    let text = format!(
        r#"
[daemon]
data_dir = "{}"
api_bind = "127.0.0.1:{api_port}"

[[brand]]
name = "Acme"
query = 'acme'

[[source]]
kind = "hackernews"
"#,
        dir.join("data").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn overhear(cfg: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fill(store: &Store) -> String {
    let now = chrono::Utc::now();
    let mut neg = String::new();
    for i in 0..5i64 {
        let p = post(
            "hackernews",
            &i.to_string(),
            &format!("https://e.com/{i}"),
            "acme, \"quoted\"\nnew line",
            now - chrono::Duration::hours(i),
        );
        let id = store
            .upsert_mention(&p, &[brand("Acme")], now)
            .unwrap()
            .id()
            .to_string();
        if i % 2 == 0 {
            store
                .set_sentiment(&id, &sentiment("negative", 0.9))
                .unwrap();
            neg = id;
        }
    }
    neg
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_cli_reads_the_database_when_no_daemon_answers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), free_port());
    let (code, _, err) = overhear(&cfg, &["mentions", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains("no database"), "{err}");
    let neg = {
        let s = Store::open(&dir.path().join("data")).unwrap();
        fill(&s)
    };
    let (code, out, err) = overhear(
        &cfg,
        &["mentions", "list", "--sentiment", "negative", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let rows: Vec<StoredMention> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].id, neg);

    let (code, out, err) = overhear(&cfg, &["mentions", "list", "--since", "150m"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ID"), "{out}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.contains("negative 0.90"), "{out}");

    let (code, out, _) = overhear(&cfg, &["mentions", "show", &neg]);
    assert_eq!(code, 0);
    assert!(
        out.contains("hackernews:4") && out.contains("sentiment:  negative"),
        "{out}"
    );
    let (code, _, err) = overhear(&cfg, &["mentions", "show", "0000000000000000"]);
    assert_eq!(code, 1);
    assert!(err.contains("no mention"), "{err}");

    let (code, out, _) = overhear(&cfg, &["mentions", "export", "--format", "csv"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("id,post_id,"));
    assert!(out.contains("\"acme, \"\"quoted\"\"\nnew line\""), "{out}");
    let (code, out, _) = overhear(
        &cfg,
        &[
            "mentions", "export", "--format", "ndjson", "--brand", "acme",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 5);

    let (code, out, _) = overhear(&cfg, &["stats", "--since", "7d"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("NEGATIVE") && out.contains("UNCLASSIFIED"),
        "{out}"
    );
    let (code, out, _) = overhear(&cfg, &["stats", "--json", "--by", "week"]);
    assert_eq!(code, 0);
    let rows: Vec<overhear::store::StatsRow> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.iter().map(|r| r.total).sum::<u64>(), 5);

    let (code, out, err) = overhear(&cfg, &["db", "check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("5 mentions") && out.contains("ok"), "{out}");
    let (code, out, _) = overhear(&cfg, &["db", "retention", "--keep", "150m"]);
    assert_eq!(code, 0);
    assert!(out.contains("removed 2 mentions"), "{out}");
    let (code, out, err) = overhear(&cfg, &["db", "compact"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("compacted"), "{out}");
    let (code, out, _) = overhear(&cfg, &["db", "check"]);
    assert_eq!(code, 0);
    assert!(out.contains("3 mentions"), "{out}");
}

#[test]
fn the_cli_reads_through_the_daemon_api_while_the_daemon_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let cfg = config(dir.path(), port);
    let store = Store::open(&dir.path().join("data")).unwrap();
    let neg = fill(&store);
    let app = api_router(store.clone());
    rt.spawn(async move { axum::serve(listener, app).await });

    let (code, out, err) = overhear(
        &cfg,
        &[
            "mentions",
            "list",
            "--brand",
            "ACME",
            "--sentiment",
            "negative",
            "--since",
            "7d",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let rows: Vec<StoredMention> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 3);
    let (code, out, err) = overhear(&cfg, &["mentions", "show", &neg, "--json"]);
    assert_eq!(code, 0, "{err}");
    let m: StoredMention = serde_json::from_str(&out).unwrap();
    assert_eq!(m.id, neg);
    // by post id too, through the API
    let (code, out, _) = overhear(&cfg, &["mentions", "show", "hackernews:4"]);
    assert_eq!(code, 0);
    assert!(out.contains(&neg));
    let (code, _, _) = overhear(&cfg, &["mentions", "show", "nope"]);
    assert_eq!(code, 1);
    let (code, out, err) = overhear(&cfg, &["stats", "--json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<overhear::store::StatsRow> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.iter().map(|r| r.total).sum::<u64>(), 5);
    // maintenance needs the database itself: refused clearly, nothing blocked
    let (code, _, err) = overhear(&cfg, &["db", "check"]);
    assert_eq!(code, 1);
    assert!(err.contains("held by another process"), "{err}");
    assert!(store.check().unwrap().is_ok());
}

#[test]
fn the_cli_says_when_the_daemon_holds_the_database_but_does_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), free_port());
    let _held = Store::open(&dir.path().join("data")).unwrap();
    let (code, _, err) = overhear(&cfg, &["mentions", "list"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("daemon holds the database") && err.contains("did not answer"),
        "{err}"
    );
}
