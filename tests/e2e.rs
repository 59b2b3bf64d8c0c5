//! End to end, with real parts on loopback: a fixture HTTP server (Hacker News,
//! RSS and Mastodon sources), a real SMTP server, and the real `overhear run`
//! binary with the bundled model.

mod daemon_support;
mod sources_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daemon_support::{
    brands_of, free_port, log_of, mentions, message_id, rss, rss_source, signal, smtp_email, start,
    start_smtp, start_smtp_slow, wait_exit, wait_for, wait_healthy, wait_two_more_polls,
    write_test_config, KeepOnFailure, Setup, ACME,
};
use serde_json::{json, Value};
use sources_support::serve_get;
use wiremock::{MockServer, ResponseTemplate};

// ---- fixtures ----

fn hn_hit(id: &str, at: i64, text: &str) -> Value {
    json!({
        "created_at": chrono::DateTime::from_timestamp(at, 0).unwrap().to_rfc3339(),
        "title": null, "url": null, "author": "hn_user", "points": null,
        "story_text": null, "comment_text": text, "num_comments": null,
        "story_id": 1000, "story_title": "Ask HN: vendors you regret", "story_url": null,
        "parent_id": 1000, "created_at_i": at, "_tags": ["comment", "author_hn_user", "story_1000"],
        "objectID": id
    })
}

fn toot(id: &str, text: &str) -> Value {
    json!({
        "id": id, "created_at": (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339(), "in_reply_to_id": null,
        "sensitive": false, "spoiler_text": "", "visibility": "public", "language": "en",
        "uri": format!("http://social.test/statuses/{id}"), "url": format!("http://social.test/@fan/{id}"),
        "replies_count": 0, "reblogs_count": 1, "favourites_count": 3, "edited_at": null,
        "content": format!("<p>{text}</p>"), "reblog": null,
        "account": {"id": "1", "username": "fan", "acct": "fan", "display_name": "Fan", "url": "http://social.test/@fan"},
        "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": null, "poll": null
    })
}

const NEGATIVE: &str =
    "Acme support kept me on hold for three hours and then refused my refund. Awful.";
const POSITIVE: &str = "Huge thanks to Acme, the fix works perfectly now. Great product!";
const OTHER_BRAND: &str = "Globex released their annual report today.";
const NOTHING: &str = "The weather is nice in Lisbon this week.";

/// What each of the three sources polls on the fixture server.
const POLLED: [&str; 3] = [
    "/hn/search_by_date",
    "/feed.xml",
    "/api/v1/timelines/tag/news",
];

async fn serve_fixtures(server: &MockServer, rss_items: &[(&str, &str, &str)]) {
    server.reset().await;
    let now = chrono::Utc::now().timestamp();
    serve_get(
        server,
        "/hn/search_by_date",
        ResponseTemplate::new(200).set_body_json(json!({
            "hits": [hn_hit("9001", now - 60, NEGATIVE)],
            "nbHits": 1, "page": 0, "nbPages": 1, "hitsPerPage": 100
        })),
    )
    .await;
    serve_get(
        server,
        "/feed.xml",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(rss(rss_items)),
    )
    .await;
    serve_get(
        server,
        "/api/v1/timelines/tag/news",
        ResponseTemplate::new(200).set_body_json(json!([toot("501", OTHER_BRAND)])),
    )
    .await;
}

fn base_items() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![("r1", "Review", POSITIVE), ("r2", "Travel", NOTHING)]
}

fn write_config(s: &Path, api: u16, fixtures: &str, smtp: u16, extra_brand: bool) -> PathBuf {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment");
    let mut text = format!(
        r#"
[daemon]
data_dir = "{data}"
poll_interval = "10s"
api_bind = "127.0.0.1:{api}"
shutdown_timeout = "15s"

[model]
path = "{model}"
alert_threshold = 0.5

[email]
transport = "smtp"
smtp_url = "smtp://127.0.0.1:{smtp}?tls=none"
from = "overhear <alerts@overhear.test>"

[[brand]]
name = "Acme"
query = "acme"
alert_to = ["support@acme.test"]

[[brand]]
name = "Globex"
query = "globex"
alert_to = ["pr@globex.test"]

[alerts]
backlog = "alert"  # every post is news here: the backlog digest is tests/first_start.rs

[[source]]
kind = "hackernews"
base_url = "{fixtures}/hn"
every = "10s"

[[source]]
kind = "rss"
url = "{fixtures}/feed.xml"
every = "10s"

[[source]]
kind = "mastodon"
instance = "{fixtures}"
tags = ["news"]
every = "10s"
"#,
        data = s.join("data").display(),
        model = model.display(),
    );
    if extra_brand {
        text.push_str("\n[[brand]]\nname = \"Initech\"\nquery = \"initech\"\nalert_to = [\"ops@initech.test\"]\n");
    }
    let path = s.join("overhear.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_post_emails_once_through_restart_reload_and_kill() {
    let fixtures = MockServer::start().await;
    serve_fixtures(&fixtures, &base_items()).await;
    // each message takes 300 ms to be accepted: the burst's alerts take seconds
    let (smtp, received) = start_smtp_slow(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    if std::env::var_os("OVERHEAR_E2E_KEEP").is_some() {
        eprintln!("e2e files kept in {}", dir.path().display());
    }
    let dir = KeepOnFailure(Some(dir));
    let api = free_port();
    let config = write_config(dir.path(), api, &fixtures.uri(), smtp, false);
    let setup = Setup { dir, config, api };

    // 1. first run: one email, for the negative post, within seconds of the first poll
    let mut child = start(&setup, "run1.log");
    wait_healthy(setup.api, &mut child).await;
    let started = Instant::now();
    let r = received.clone();
    wait_for("the alert email", Duration::from_secs(30), || {
        !r.lock().unwrap().is_empty()
    })
    .await;
    let latency = started.elapsed();
    assert!(latency < Duration::from_secs(20), "alert took {latency:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    {
        let mails = received.lock().unwrap();
        assert_eq!(mails.len(), 1, "exactly one email: {mails:#?}");
        assert_eq!(mails[0].to, vec!["support@acme.test".to_string()]);
        assert!(mails[0].data.contains("Acme"), "{}", mails[0].data);
    }

    // mentions list shows the three brand mentions with their sentiment
    let setup_ref = &setup;
    wait_for("three classified mentions", Duration::from_secs(30), || {
        let m = mentions(setup_ref);
        m.len() == 3 && m.iter().all(|x| x["sentiment"]["label"].is_string())
    })
    .await;
    let list = mentions(&setup);
    let label_of = |needle: &str| {
        list.iter()
            .find(|m| m["post"]["text"].as_str().unwrap_or("").contains(needle))
            .map(|m| m["sentiment"]["label"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(
        label_of("on hold").as_deref(),
        Some("negative"),
        "{list:#?}"
    );
    assert_eq!(
        label_of("fix works").as_deref(),
        Some("positive"),
        "{list:#?}"
    );
    assert!(list.iter().any(|m| brands_of(m) == ["Globex"]));
    assert!(!list
        .iter()
        .any(|m| m["post"]["text"].as_str().unwrap_or("").contains("Lisbon")));

    // 2. SIGTERM: exit 0, nothing lost
    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert!(
        status.success(),
        "exit status {status}: {}",
        log_of(&setup, "run1.log")
    );
    assert_eq!(mentions(&setup).len(), 3);

    // 3. restart: the same posts are served again, no duplicate email (after each
    // source polled them again, and a whole poll interval more)
    let mut child = start(&setup, "run2.log");
    wait_healthy(setup.api, &mut child).await;
    wait_two_more_polls(&fixtures, &POLLED, Duration::from_secs(60)).await;
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "no duplicate email after restart"
    );
    assert_eq!(mentions(&setup).len(), 3);

    // 4. SIGHUP with a new brand: its mention is picked up without a restart
    write_config(setup.dir.path(), setup.api, &fixtures.uri(), smtp, true);
    signal(&child, "HUP");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut items = base_items();
    items.push((
        "r3",
        "Initech",
        "Initech lost all our data and nobody answers the phone. Terrible.",
    ));
    serve_fixtures(&fixtures, &items).await;
    wait_for("the Initech mention", Duration::from_secs(40), || {
        mentions(setup_ref)
            .iter()
            .any(|m| brands_of(m) == ["Initech"])
    })
    .await;
    let r = received.clone();
    wait_for("the Initech alert", Duration::from_secs(30), || {
        r.lock()
            .unwrap()
            .iter()
            .any(|m| m.to == ["ops@initech.test"])
    })
    .await;
    // an invalid config is rejected and the old one keeps running
    std::fs::write(&setup.config, "[[brand]]\nname = \"x\"\nquery = \"(\"\n").unwrap();
    signal(&child, "HUP");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "daemon died on a bad reload"
    );
    write_config(setup.dir.path(), setup.api, &fixtures.uri(), smtp, true);

    // 5. SIGKILL during a burst: restart loses nothing, sends nothing twice. The kill
    // lands once the burst has begun (a burst post is stored) and before it is done
    // (its alerts go out one per 300 ms); what was done at the kill is checked.
    let mails_before = received.lock().unwrap().len();
    let burst: Vec<(String, String)> = (0..60)
        .map(|i| {
            let body = if i % 3 == 0 {
                format!(
                    "Acme broke again, order {i} never arrived and support ignored me. Furious."
                )
            } else {
                format!("Acme delivered order {i} on time, lovely packaging, very happy.")
            };
            (format!("b{i}"), body)
        })
        .collect();
    let mut items: Vec<(&str, &str, &str)> = base_items();
    items.push((
        "r3",
        "Initech",
        "Initech lost all our data and nobody answers the phone. Terrible.",
    ));
    items.extend(burst.iter().map(|(g, b)| (g.as_str(), "Order", b.as_str())));
    serve_fixtures(&fixtures, &items).await;
    let api_url = format!("http://127.0.0.1:{}/api/reload", setup.api);
    // reload makes the RSS source poll now
    let r = reqwest::Client::new()
        .post(&api_url)
        .header("Authorization", setup.auth())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "reload: {}", r.status());
    let burst_stored = |m: &[Value]| {
        m.iter()
            .filter(|x| x["post"]["text"].as_str().unwrap_or("").contains("order "))
            .count()
    };
    wait_for("the burst to begin", Duration::from_secs(60), || {
        burst_stored(&mentions(setup_ref)) > 0
    })
    .await;
    signal(&child, "KILL");
    let _ = wait_exit(&mut child, Duration::from_secs(10));
    let stored_at_kill = burst_stored(&mentions(&setup));
    let mailed_at_kill = received.lock().unwrap().len() - mails_before;

    let mut child = start(&setup, "run3.log");
    wait_healthy(setup.api, &mut child).await;
    wait_for(
        "every burst mention classified",
        Duration::from_secs(90),
        || {
            let m = mentions(setup_ref);
            m.iter()
                .filter(|x| x["post"]["text"].as_str().unwrap_or("").contains("order "))
                .count()
                == 60
                && m.iter().all(|x| x["sentiment"]["label"].is_string())
        },
    )
    .await;
    let list = mentions(&setup);
    let mut ids: Vec<&str> = list
        .iter()
        .filter_map(|m| m["post"]["id"].as_str())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a post stored twice");
    assert_eq!(n, 3 + 1 + 60);
    let negatives: Vec<&Value> = list
        .iter()
        .filter(|m| brands_of(m) == ["Acme"] && m["sentiment"]["label"] == "negative")
        .collect();
    let burst_negatives = negatives
        .iter()
        .filter(|m| m["post"]["text"].as_str().unwrap_or("").contains("order "))
        .count();
    assert!(burst_negatives > 0, "{list:#?}");
    assert!(
        stored_at_kill > 0 && (stored_at_kill < 60 || mailed_at_kill < burst_negatives),
        "the kill did not land mid-burst: {stored_at_kill} of 60 posts stored and \
         {mailed_at_kill} of {burst_negatives} alerts sent"
    );
    eprintln!(
        "at the kill: {stored_at_kill} of 60 burst posts stored, {mailed_at_kill} of \
         {burst_negatives} alerts sent"
    );
    let r = received.clone();
    let expected = negatives.len() + 1; // + Initech
    wait_for("all alerts", Duration::from_secs(60), || {
        r.lock().unwrap().len() >= expected
    })
    .await;
    // and each source polls the burst again, and a poll interval passes
    wait_two_more_polls(&fixtures, &POLLED, Duration::from_secs(60)).await;
    let mails = received.lock().unwrap().clone();
    // Each alert is one message with a stable Message-ID: recipients see exactly one
    // per mention. A SIGKILL that lands between the server's "250 OK" and the outbox
    // recording it makes the next run hand the same message (same Message-ID) over
    // once more; at most the one message in flight at the kill.
    let mut ids: Vec<String> = mails.iter().map(|m| message_id(&m.data)).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected, "one message per negative mention");
    assert!(
        mails.len() <= expected + 1,
        "{} deliveries for {expected} messages",
        mails.len()
    );
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}

fn late_brand_config(s: &Path, api: u16, fixtures: &str, smtp: u16, later: bool) -> PathBuf {
    let feed = format!("{fixtures}/feed.xml");
    let mut rest = format!(
        "{}\n{ACME}\n{}",
        smtp_email(smtp),
        rss_source("feed-a", &feed)
    );
    if later {
        // A brand added on reload, and a second feed that carries the same post.
        rest.push_str("\n[[brand]]\nname = \"Initech\"\nquery = \"initech\"\nalert_to = [\"ops@initech.test\"]\n\n");
        rest.push_str(&rss_source("feed-b", &feed));
    }
    write_test_config(s, api, "", &rest)
}

/// A stored mention that gains a brand later (here: the brand is added on reload and
/// a second feed brings the same post) alerts that brand's team too, once, and the
/// first brand's team is not alerted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brand_added_to_a_stored_mention_alerts_for_that_brand() {
    let fixtures = MockServer::start().await;
    let both =
        "Acme and Initech both kept me on hold for three hours and refused my refund. Awful.";
    serve_get(
        &fixtures,
        "/feed.xml",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(rss(&[("p1", "Support", both)])),
    )
    .await;
    let (smtp, received) = start_smtp();
    let dir = KeepOnFailure(Some(tempfile::tempdir().unwrap()));
    let api = free_port();
    let config = late_brand_config(dir.path(), api, &fixtures.uri(), smtp, false);
    let setup = Setup { dir, config, api };
    let mut child = start(&setup, "run.log");
    wait_healthy(setup.api, &mut child).await;
    let r = received.clone();
    wait_for("the Acme alert", Duration::from_secs(40), || {
        r.lock()
            .unwrap()
            .iter()
            .any(|m| m.to == ["support@acme.test"])
    })
    .await;

    late_brand_config(setup.dir.path(), setup.api, &fixtures.uri(), smtp, true);
    signal(&child, "HUP");
    let r = received.clone();
    wait_for("the Initech alert", Duration::from_secs(40), || {
        r.lock()
            .unwrap()
            .iter()
            .any(|m| m.to == ["ops@initech.test"])
    })
    .await;
    let setup_ref = &setup;
    wait_for(
        "one mention with both brands",
        Duration::from_secs(10),
        || {
            let m = mentions(setup_ref);
            m.len() == 1 && brands_of(&m[0]).len() == 2
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = received.lock().unwrap().clone();
    let to_acme = mails
        .iter()
        .filter(|m| m.to == ["support@acme.test"])
        .count();
    let to_initech = mails
        .iter()
        .filter(|m| m.to == ["ops@initech.test"])
        .count();
    assert_eq!((to_acme, to_initech), (1, 1), "{mails:#?}");
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
}
