//! The inbox in a real browser: headless Chromium driven over WebDriver
//! (chromium-driver, from Debian) with fantoccini, against the real daemon. Log in,
//! filter, take a mention with the keyboard, resolve one with a note, the same at a
//! phone's width (375 px), the state after a daemon restart, and no errors in the
//! browser's console. Screenshots of the inbox and a mention are kept in
//! `target/tmp/inbox/` as artifacts.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test is recorded as skipped (`make test` lists it at the end), or fails when
//! OVERHEAR_REQUIRE_BROWSER=1 (set by `.ci/run`).

mod api_support;
mod browser_support;
mod inbox_support;
mod skip_support;
mod store_support;

use std::time::Duration;

use browser_support::*;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, Locator};
use inbox_support::*;
use serde_json::json;

async fn key(c: &Client, k: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: k })
        .then(KeyAction::Up { value: k });
    c.perform_actions(keys).await.unwrap();
}

#[test]
fn triage_in_a_real_browser_on_a_desktop_and_a_phone() {
    let Some(drv) = driver() else { return };
    let (mut d, ids) = daemon_with_inbox("");
    let base = d.url("");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = rt.block_on(async {
        let c = browser(&drv).await;
        login(&c, &base, USER, PASSWORD).await;
        wait_text(&c, "header .counts", "Acme").await;
        assert_eq!(
            c.find_all(Locator::Css("li.mention")).await.unwrap().len(),
            3,
            "the open negatives"
        );
        assert!(text_of(&c, "header .counts").await.contains("Acme 3"));
        // the hostile post is shown as text
        let first = text_of(&c, "li.mention").await;
        assert!(first.contains("<script>alert('acme')</script>"), "{first}");
        shot(&c, "inbox/inbox.png").await;

        // filter: every sentiment shows the positive one too
        c.find(Locator::Css("select[name=sentiment] option[value=all]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.find(Locator::Css(".filters button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, "ol.mentions", "love the new").await;
        assert_eq!(
            c.find_all(Locator::Css("li.mention")).await.unwrap().len(),
            4
        );
        c.goto(&format!("{base}/")).await.unwrap();

        // full-text search, from the keyboard: / goes to the search field
        wait_text(&c, "ol.mentions", "three hours").await;
        key(&c, '/').await;
        let q = c.active_element().await.unwrap();
        assert_eq!(q.attr("name").await.unwrap().as_deref(), Some("q"));
        q.send_keys("refund NOT hold\u{E007}").await.unwrap();
        wait_text(&c, "ol.mentions", "never").await;
        let found = c.find_all(Locator::Css("li.mention")).await.unwrap();
        assert_eq!(found.len(), 1, "only the refund that is not about the hold");
        c.goto(&format!("{base}/?q=%22unclosed")).await.unwrap();
        wait_text(&c, ".flash", "").await;
        c.goto(&format!("{base}/")).await.unwrap();

        // the keyboard: j to the second row, a to take it
        wait_text(&c, "ol.mentions", "three hours").await;
        key(&c, 'j').await;
        let sel = c.find(Locator::Css("li.mention.sel")).await.unwrap();
        assert_eq!(
            sel.attr("data-id").await.unwrap().as_deref(),
            Some(ids[1].as_str())
        );
        key(&c, 'a').await;
        wait_text(
            &c,
            &format!("li[data-id=\"{}\"] .status", ids[1]),
            "acknowledged · dana",
        )
        .await;

        // r: the note field of the selected row; Enter resolves with the note
        key(&c, 'r').await;
        let focused = c.active_element().await.unwrap();
        assert_eq!(focused.attr("name").await.unwrap().as_deref(), Some("note"));
        focused.send_keys("replied on HN\u{E007}").await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.goto(&format!("{base}/m/{}", ids[1])).await.unwrap();
        wait_text(&c, ".facts .status", "resolved").await;
        assert!(text_of(&c, ".history").await.contains("replied on HN"));
        assert!(text_of(&c, ".history").await.contains("dana (web)"));
        shot(&c, "inbox/mention.png").await;

        // a phone: nothing wider than the screen, and an action still works
        c.set_window_size(375, 812).await.unwrap();
        c.goto(&format!("{base}/")).await.unwrap();
        wait_text(&c, "ol.mentions", "shipping").await;
        let fits = c
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(fits, json!(true), "the inbox fits 375 px");
        shot(&c, "inbox/inbox-375.png").await;
        let row = format!("li[data-id=\"{}\"]", ids[2]);
        c.find(Locator::Css(&format!("{row} button[data-key=a]")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait_text(&c, &format!("{row} .status"), "acknowledged").await;
        // the dashboard: charts, the response times of what was just done
        c.set_window_size(1280, 1100).await.unwrap();
        c.goto(&format!("{base}/dashboard?days=7")).await.unwrap();
        wait_text(&c, ".dash", "How fast the team answers").await;
        assert!(
            c.find_all(Locator::Css("svg.chart rect"))
                .await
                .unwrap()
                .len()
                >= 3
        );
        let dash = text_of(&c, ".dash").await;
        assert!(
            dash.contains("Time to acknowledge") && dash.contains("Acme (brand)"),
            "{dash}"
        );
        shot(&c, "inbox/dashboard.png").await;
        no_console_errors(&c, &drv).await;
        c
    });
    // after a restart: still logged in (sessions are in the database), states kept
    restart(&mut d);
    rt.block_on(async {
        c.goto(&format!("{base}/?status=all")).await.unwrap();
        wait_text(
            &c,
            &format!("li[data-id=\"{}\"] .status", ids[1]),
            "resolved",
        )
        .await;
        wait_text(
            &c,
            &format!("li[data-id=\"{}\"] .status", ids[2]),
            "acknowledged · dana",
        )
        .await;
        no_console_errors(&c, &drv).await;
        c.close().await.unwrap();
    });
}
