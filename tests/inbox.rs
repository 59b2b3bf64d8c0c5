//! The inbox over HTTP, against the real daemon: log in (and be limited), sessions,
//! CSRF on every state change, the pages' security headers, hostile text rendered as
//! text, actions recorded with who/when/via web, and `overhear user` through the API
//! while the daemon runs.

mod api_support;
mod inbox_support;
mod store_support;

use std::process::Command;

use api_support::{block, TOKEN, TOKEN_ENV};
use inbox_support::*;

fn cli(d: &api_support::Daemon, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("--config")
        .arg(&d.config)
        .args(args)
        .env(TOKEN_ENV, TOKEN)
        .output()
        .unwrap()
}

#[test]
fn log_in_see_the_inbox_and_take_a_mention_with_csrf_checked() {
    let (d, ids) = daemon_with_inbox("");
    block(async {
        let mut b = Browser::new(&d);
        // no session: to the login page, the way back kept
        let p = b.get("/?status=new").await;
        assert_eq!(p.status, 303);
        assert_eq!(
            p.location.as_deref(),
            Some("/login?next=%2F%3Fstatus%3Dnew")
        );
        let p = b.get("/login").await;
        assert!(p.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        assert!(
            !p.body.contains("<script>alert"),
            "no inline script anywhere"
        );

        let p = b.login(USER, "wrong password!!").await;
        assert_eq!(p.status, 401);
        assert!(p.body.contains("Wrong name or password."));
        // the login form's own CSRF token is checked too
        let p = b
            .post(
                "/login",
                &[("login", USER), ("password", PASSWORD), ("csrf", "forged")],
            )
            .await;
        assert_eq!(p.status, 403);
        let p = b.login(EMAIL, PASSWORD).await;
        assert_eq!(p.status, 303, "{}", p.body);
        let session = b
            .cookies
            .iter()
            .find(|(k, _)| k == "overhear_session")
            .unwrap()
            .1
            .clone();
        assert_eq!(session.len(), 64);

        let inbox = b.get("/").await;
        assert_eq!(inbox.status, 200);
        assert!(
            inbox.body.contains("kept me on hold for three hours"),
            "{}",
            inbox.body
        );
        assert!(
            !inbox.body.contains("love the new"),
            "positives are not in the default view"
        );
        // the hostile post is text, and its matched term is highlighted
        assert!(!inbox.body.contains("<script>alert"), "{}", inbox.body);
        assert!(
            inbox.body.contains("&lt;script&gt;alert("),
            "{}",
            inbox.body
        );
        assert!(inbox.body.contains("<mark>acme</mark>"));
        assert!(
            inbox.body.contains("Acme <b>3</b>"),
            "open negatives per brand"
        );
        let csrf = hidden(&inbox.body, "csrf");

        // a state change without the session's CSRF token is refused, and changes nothing
        let path = format!("/m/{}/ack", ids[1]);
        for bad in ["", "0000", &csrf[1..]] {
            let p = b.post(&path, &[("csrf", bad)]).await;
            assert_eq!(p.status, 403, "csrf {bad:?}");
        }
        // ... and without a session at all
        let mut stranger = Browser::new(&d);
        let p = stranger.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(p.status, 303, "to the login page");
        // from another site, even with the session and the token
        let p = b
            .post(&path, &[("csrf", &csrf), ("back", "//evil.test/")])
            .await;
        assert_eq!(p.status, 303);
        assert_eq!(
            p.location.as_deref(),
            Some("/"),
            "never redirected off this site"
        );

        let m = b.get(&format!("/m/{}", ids[1])).await;
        assert!(m.body.contains("acknowledged · dana"), "{}", m.body);
        assert!(
            m.body.contains("<b>dana</b> (web): new → acknowledged"),
            "{}",
            m.body
        );
        let p = b
            .post(
                &format!("/m/{}/resolve", ids[1]),
                &[
                    ("csrf", &csrf),
                    ("note", "replied on HN <3"),
                    ("back", &format!("/m/{}", ids[1])),
                ],
            )
            .await;
        assert_eq!(
            p.location.as_deref(),
            Some(format!("/m/{}", ids[1]).as_str())
        );
        let m = b.get(&format!("/m/{}", ids[1])).await;
        assert!(m.body.contains("replied on HN &lt;3"), "{}", m.body);

        // bulk: dismiss the other two negatives
        let p = b
            .post(
                "/bulk",
                &[
                    ("csrf", &csrf),
                    ("action", "dismiss"),
                    ("reason", "spam"),
                    ("ids", &ids[0]),
                    ("ids", &ids[2]),
                ],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let inbox = b.get("/").await;
        assert!(
            inbox
                .body
                .contains("Every negative mention has been answered"),
            "{}",
            inbox.body
        );
        assert!(inbox.body.contains("Acme <b>0</b>"));

        // logging out ends the session for good
        let p = b.post("/logout", &[("csrf", &csrf)]).await;
        assert_eq!(p.status, 303);
        b.cookies.push(("overhear_session".into(), session));
        assert_eq!(b.get("/").await.status, 303);
    });
    // the CLI sees what the web did, with who and from where
    let out = cli(&d, &["mentions", "show", &ids[1], "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["assignee"], "dana");
    assert_eq!(v["history"][0]["via"], "web");
    assert_eq!(v["history"][1]["note"], "replied on HN <3");
}

#[test]
fn failed_logins_are_limited_and_users_are_managed_through_the_running_daemon() {
    let (d, _) = daemon_with_inbox("");
    block(async {
        let mut b = Browser::new(&d);
        for _ in 0..5 {
            assert_eq!(b.login(USER, "not the password").await.status, 401);
        }
        let p = b.login(USER, PASSWORD).await;
        assert_eq!(p.status, 429, "even the right password waits: {}", p.body);
        assert!(p.headers.contains_key("retry-after"));
        assert!(p.body.contains("Too many failed logins"));
    });
    // the daemon holds the database: these go through /api/users with the token
    let mut add = Command::new(env!("CARGO_BIN_EXE_overhear"));
    add.arg("--config")
        .arg(&d.config)
        .args(["user", "add", "eli", "--password-stdin"])
        .env(TOKEN_ENV, TOKEN)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = add.spawn().unwrap();
    {
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "another long password").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&d, &["user", "list", "--json"]);
    let users: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dana", "eli"]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("argon2"),
        "no hash is ever listed"
    );
    block(async {
        let mut b = Browser::new(&d);
        assert_eq!(b.login("eli", "another long password").await.status, 303);
        assert_eq!(b.get("/").await.status, 200);
        let out = cli(&d, &["user", "remove", "eli"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            b.get("/").await.status,
            303,
            "a removed user's session ends"
        );
    });
    // without the token, /api/users is closed
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("--config")
        .arg(&d.config)
        .args(["user", "list"])
        .env_remove(TOKEN_ENV)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn eval_feedback_reports_the_alert_precision_on_the_teams_judgements() {
    use overhear::store::{Action, DismissReason, Store, Transition, Via};
    let dir = tempfile::tempdir().unwrap();
    let config = api_support::write_config(dir.path(), "127.0.0.1:9", "");
    let ids = fill_inbox(&dir.path().join("data"));
    {
        let s = Store::open(&dir.path().join("data")).unwrap();
        let t = |action| Transition {
            action,
            by: "dana".into(),
            via: Via::Cli,
            note: None,
            corrected: None,
        };
        let now = chrono::Utc::now();
        s.triage(&ids[1], &t(Action::Ack), now).unwrap();
        s.triage(&ids[2], &t(Action::Resolve), now).unwrap();
        s.triage(
            &ids[0],
            &t(Action::Dismiss(DismissReason::NotNegative)),
            now,
        )
        .unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_overhear"))
        .arg("--config")
        .arg(&config)
        .args(["eval", "--feedback", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r[0]["brand"], "Acme");
    assert_eq!(
        (r[0]["judged"].as_u64(), r[0]["corrected"].as_u64()),
        (Some(3), Some(1))
    );
    let p = r[0]["precision"].as_f64().unwrap();
    assert!((p - 2.0 / 3.0).abs() < 1e-9, "{r}");
    // all three at the same probability: no threshold separates them
    assert!(r[0]["threshold_for_target"].is_null(), "{r}");
}

#[test]
fn negatives_still_new_past_escalate_after_are_marked_overdue() {
    // the inbox's negatives were seen 5, 15 and 25 minutes ago
    let (d, ids) = daemon_with_inbox("[alerts]\nescalate_after = \"12m\"\n");
    block(async {
        let mut b = Browser::new(&d);
        assert_eq!(b.login(USER, PASSWORD).await.status, 303);
        let p = b.get("/?status=new").await;
        assert_eq!(p.status, 200);
        assert_eq!(
            p.body.matches("class=\"overdue\"").count(),
            2,
            "the 15 and 25 minute old ones: {}",
            p.body
        );
        let page = b.get(&format!("/m/{}", ids[2])).await;
        assert!(page.body.contains("class=\"overdue\""), "{}", page.body);
        let fresh = b.get(&format!("/m/{}", ids[0])).await;
        assert!(!fresh.body.contains("class=\"overdue\""));
        // taken: no longer overdue
        let csrf = hidden(&page.body, "csrf");
        let p = b
            .post(
                &format!("/m/{}/ack", ids[2]),
                &[("csrf", csrf.as_str()), ("back", "/")],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let p = b.get("/?status=new").await;
        assert_eq!(p.body.matches("class=\"overdue\"").count(), 1);
    });
}

#[test]
fn older_pages_show_every_mention_once_even_when_many_share_a_millisecond() {
    let dir = tempfile::tempdir().unwrap();
    let port = api_support::free_port();
    let config = api_support::write_config(
        dir.path(),
        &format!("127.0.0.1:{port}"),
        &format!("api_token_env = \"{TOKEN_ENV}\"\n"),
    );
    // 160 mentions, every three in one millisecond: page ends fall inside ties
    api_support::fill(&dir.path().join("data"), 160);
    add_user(&config, None);
    let d = api_support::start(dir, config, port);
    block(async {
        let mut b = Browser::new(&d);
        assert_eq!(b.login(USER, PASSWORD).await.status, 303);
        let mut seen = std::collections::BTreeSet::new();
        let mut path = "/?status=all&sentiment=all".to_string();
        let mut pages = 0;
        loop {
            pages += 1;
            assert!(pages < 10, "paging does not end");
            let p = b.get(&path).await;
            assert_eq!(p.status, 200);
            for row in p.body.split("data-id=\"").skip(1) {
                let id = &row[..16];
                assert!(seen.insert(id.to_string()), "{id} shown twice");
            }
            let Some(at) = p.body.find("\">Older →</a>") else {
                break;
            };
            let start = p.body[..at].rfind("href=\"").unwrap() + 6;
            path = p.body[start..at]
                .replace("&amp;", "&")
                .replace("&#x2f;", "/");
        }
        assert_eq!(seen.len(), 160);
        assert_eq!(pages, 4);
    });
}
