//! A one-star App Store review alerts through `[alerts] alert_on_rating`, end to
//! end: the real `overhear run` binary with the bundled model polls a real recorded
//! customer-review page (`tests/fixtures/feeds/appstore/`, see SOURCES.md) served on
//! loopback, from an owned channel (`brand = "Acme"`: no review names the brand).
//! The page's four five-star reviews are praise; one of them is given one star here,
//! its words unchanged, so that only its rating can make it alert. Exactly that
//! review is emailed, with its stars and the reason; the praise is stored, not sent.

mod daemon_support;
mod sources_support;

use std::time::Duration;

use daemon_support::{
    free_port, mentions, start, wait_for, wait_healthy, write_test_config, KeepOnFailure, Setup,
};
use serde_json::Value;
use sources_support::serve_get;
use wiremock::{MockServer, ResponseTemplate};

const APP: &str = "1510826067";

fn page() -> Value {
    let p = format!(
        "{}/tests/fixtures/feeds/appstore/itunes_customerreviews_{APP}_gb_1.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    // "Great app" / "Easy to use and syncs my visited list on all my apple devices"
    v["feed"]["entry"][1]["im:rating"]["label"] = Value::from("1");
    v
}

fn emails(dir: &std::path::Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_star_review_alerts_through_alert_on_rating_and_praise_does_not() {
    let server = MockServer::start().await;
    serve_get(
        &server,
        &format!("/gb/rss/customerreviews/page=1/id={APP}/sortby=mostrecent/json"),
        ResponseTemplate::new(200).set_body_json(page()),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let api = free_port();
    let rest = format!(
        "[alerts]\nalert_on_rating = 2\n\n\
         [[brand]]\nname = \"Acme\"\nquery = \"acme\"\nalert_to = [\"support@acme.test\"]\n\n\
         [[source]]\nkind = \"appstore\"\napps = [\"{APP}\"]\ncountries = [\"gb\"]\nbase_url = \"{}\"\nbrand = \"Acme\"\nevery = \"10s\"\n",
        server.uri()
    );
    let config = write_test_config(dir.path(), api, "", &rest);
    let setup = Setup {
        dir: KeepOnFailure(Some(dir)),
        config,
        api,
    };
    let mail = setup.dir.path().join("data").join("mail");
    let mut daemon = start(&setup, "daemon.log");
    wait_healthy(api, &mut daemon).await;
    wait_for("the four reviews stored", Duration::from_secs(60), || {
        mentions(&setup).len() == 4
    })
    .await;
    wait_for("the alert", Duration::from_secs(60), || {
        !emails(&mail).is_empty()
    })
    .await;
    // the rest had their chance: the praise is classified and not sent
    wait_for("all four classified", Duration::from_secs(60), || {
        mentions(&setup)
            .iter()
            .all(|m| m["sentiment"]["label"].is_string())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent = emails(&mail);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let eml = &sent[0];
    assert!(
        eml.contains("Easy to use and syncs my visited list"),
        "{eml}"
    );
    assert!(eml.contains("1-star review"), "the reason says why: {eml}");
    assert!(eml.contains("alert_on_rating"), "{eml}");
    let stored = mentions(&setup);
    let rated: Vec<&Value> = stored.iter().filter(|m| m["post"]["rating"] == 1).collect();
    assert_eq!(rated.len(), 1);
    assert_eq!(
        rated[0]["sentiment"]["label"], "positive",
        "its words are praise: only the rating alerts"
    );
    assert!(stored
        .iter()
        .all(|m| m["brands"][0]["query"] == "owned channel"));
}
