//! An owned channel (`brand = NAME` on a `[[source]]`): the real `overhear run`
//! binary polls an RSS feed on loopback that is the brand's own forum; every post
//! in it is stored as a mention of the brand whatever it says ("owned channel", no
//! terms), while other brands' queries still run on it. `overhear poll --once`
//! shows the same, and `overhear check` refuses a brand that does not exist.

mod daemon_support;
mod sources_support;

use std::time::Duration;

use daemon_support::{
    free_port, mentions, rss, start, wait_for, wait_healthy, write_test_config, KeepOnFailure,
    Setup,
};
use serde_json::Value;
use sources_support::{overhear, overhear_ok, serve_get};
use wiremock::{MockServer, ResponseTemplate};

const ITEMS: [(&str, &str, &str); 3] = [
    (
        "f1",
        "Export to CSV?",
        "Is there a way to export the dashboard to CSV?",
    ),
    (
        "f2",
        "Login broken",
        "Since the update I cannot log in at all. Please help.",
    ),
    (
        "f3",
        "Moving from Globex",
        "We are moving our team over from Globex next month.",
    ),
];

fn brands(rest: &str, url: &str) -> String {
    format!(
        "[[brand]]\nname = \"Acme\"\nquery = \"acme\"\n\n\
         [[brand]]\nname = \"Globex\"\nquery = \"globex\"\n\n\
         [[source]]\nkind = \"rss\"\nname = \"forum\"\nurl = \"{url}/forum.xml\"\nevery = \"10s\"\n{rest}"
    )
}

/// `(brand, query, number of terms)` of each brand a stored mention has.
fn matches(m: &Value) -> Vec<(String, String, usize)> {
    m["brands"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            (
                b["brand"].as_str().unwrap_or("").to_string(),
                b["query"].as_str().unwrap_or("").to_string(),
                b["terms"].as_array().map_or(0, Vec::len),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_of_an_owned_channel_is_stored_as_a_mention_of_its_brand() {
    let server = MockServer::start().await;
    serve_get(
        &server,
        "/forum.xml",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(rss(&ITEMS)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let api = free_port();
    let config = write_test_config(
        dir.path(),
        api,
        "",
        &brands("brand = \"acme\"\n", &server.uri()),
    );
    let setup = Setup {
        dir: KeepOnFailure(Some(dir)),
        config,
        api,
    };

    // poll --once: every post, each naming Acme; the Globex one both
    let out = overhear_ok(&["poll", "forum", "--once"], &setup.config);
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for l in &lines {
        // as the entry spells it; the match names the brand as configured
        assert_eq!(l["owned_by"], "acme", "{l}");
        assert_eq!(l["brands"][0], "Acme", "{l}");
    }

    let mut daemon = start(&setup, "daemon.log");
    wait_healthy(api, &mut daemon).await;
    wait_for("three stored mentions", Duration::from_secs(90), || {
        mentions(&setup).len() == 3
    })
    .await;
    let stored = mentions(&setup);
    for m in &stored {
        let id = m["post"]["id"].as_str().unwrap_or("");
        let got = matches(m);
        let want_acme = ("Acme".to_string(), "owned channel".to_string(), 0);
        assert!(got.contains(&want_acme), "{id}: {got:?}");
        if id.ends_with("f3") {
            assert_eq!(got.len(), 2, "Globex's query still runs: {got:?}");
            assert!(
                got.iter().any(|(b, _, n)| b == "Globex" && *n > 0),
                "{got:?}"
            );
        } else {
            assert_eq!(got.len(), 1, "{id}: {got:?}");
        }
    }
}

#[test]
fn check_refuses_an_owned_channel_of_a_brand_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_test_config(
        dir.path(),
        free_port(),
        "",
        &brands("brand = \"Initech\"\n", "http://127.0.0.1:9"),
    );
    let out = overhear(&["check"], &config);
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("source[0].brand") && err.contains("\"Initech\" is not a [[brand]]"),
        "{err}"
    );
}
