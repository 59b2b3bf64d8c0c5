//! The App Store source against a loopback server serving Apple's recorded review
//! feeds (`tests/fixtures/feeds/appstore/`, provenance in SOURCES.md), slices of them,
//! and scripted failures.

mod sources_support;

use std::sync::Arc;
use std::time::Duration;

use overhear::sources::{MemoryState, SourceError};
use serde_json::{json, Value};
use sources_support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FR: &str = "appstore/itunes_customerreviews_497799835_fr_1.json";

fn page_path(cc: &str, app: &str, n: u32) -> String {
    format!("/{cc}/rss/customerreviews/page={n}/id={app}/sortby=mostrecent/json")
}

fn config(server: &MockServer, app: &str, cc: &str) -> String {
    format!(
        "[[source]]\nkind = \"appstore\"\nname = \"reviews\"\napps = [\"{app}\"]\ncountries = [\"{cc}\"]\nbase_url = \"{}\"\n",
        server.uri()
    )
}

/// The French page with only `entries` (indices into its 50 reviews, newest first).
fn fr_slice(range: std::ops::Range<usize>) -> Value {
    let mut v = fixture_json(FR);
    let all = v["feed"]["entry"].as_array().unwrap().clone();
    v["feed"]["entry"] = Value::Array(all[range].to_vec());
    v
}

fn review_id(i: usize) -> String {
    fixture_json(FR)["feed"]["entry"][i]["id"]["label"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn serve_page(server: &MockServer, cc: &str, app: &str, n: u32, body: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(page_path(cc, app, n)))
        .respond_with(body)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_first_poll_reads_page_one_with_emoji_and_ratings() {
    let server = MockServer::start().await;
    let gb = fixture("appstore/itunes_customerreviews_1510826067_gb_1.json");
    serve_page(
        &server,
        "gb",
        "1510826067",
        1,
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/javascript; charset=utf-8")
            .set_body_bytes(gb),
    )
    .await;
    // written as in an App Store URL, the storefront in capitals
    let (mut s, state) = fresh_source(&config(&server, "id1510826067", "GB"), &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 4);
    assert!(b.posts.iter().all(|p| p.rating == Some(5)));
    let p = b
        .posts
        .iter()
        .find(|p| p.id == "appstore:1510826067:gb:6504352127")
        .unwrap();
    assert!(p.text.contains('👏'));
    assert_eq!(p.site, "apps.apple.com/gb");
    assert_eq!(p.source_name, "reviews");
    assert_eq!(
        saved(&state, "reviews").unwrap()["newest"],
        json!({"1510826067:gb": 6504352127u64})
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn chinese_reviews_keep_their_text_and_one_star() {
    let server = MockServer::start().await;
    serve_page(
        &server,
        "cn",
        "497799835",
        1,
        ResponseTemplate::new(200).set_body_bytes(fixture(
            "appstore/itunes_customerreviews_497799835_cn_10.json",
        )),
    )
    .await;
    let (mut s, _) = fresh_source(&config(&server, "497799835", "cn"), &[]);
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 50);
    let p = b
        .posts
        .iter()
        .find(|p| p.id == "appstore:497799835:cn:6455612413")
        .unwrap();
    assert_eq!(p.title.as_deref(), Some("越来越烂"));
    assert_eq!(p.rating, Some(1));
    assert_eq!(
        p.url,
        "https://apps.apple.com/cn/app/id497799835?see-all=reviews"
    );
}

/// One state, two source instances (a restart): the second pages on to the review
/// the first read last and emits only what is newer; a third poll emits nothing.
#[tokio::test]
async fn resume_across_restarts_pages_to_the_last_review_and_emits_nothing_twice() {
    let server = MockServer::start().await;
    serve_page(&server, "fr", "497799835", 1, json_body(&fr_slice(20..50))).await;
    let state = Arc::new(MemoryState::default());
    let toml = config(&server, "497799835", "fr");
    let mut first = source(&toml, state.clone(), &[]);
    let b = poll_commit(&mut first).await.unwrap();
    assert_eq!(b.posts.len(), 30);
    drop(first);

    server.reset().await;
    serve_page(&server, "fr", "497799835", 1, json_body(&fr_slice(0..10))).await;
    serve_page(&server, "fr", "497799835", 2, json_body(&fr_slice(10..30))).await;
    Mock::given(method("GET"))
        .and(path(page_path("fr", "497799835", 3)))
        .respond_with(json_body(&fr_slice(30..50)))
        .expect(0)
        .mount(&server)
        .await;
    let mut second = source(&toml, state.clone(), &[]);
    let b = poll_commit(&mut second).await.unwrap();
    let mut want: Vec<String> = (0..20)
        .map(|i| format!("appstore:497799835:fr:{}", review_id(i)))
        .collect();
    let mut got = ids(&b);
    want.sort();
    got.sort();
    assert_eq!(got, want, "the 20 newer reviews, none read before");
    assert_eq!(
        saved(&state, "reviews").unwrap()["newest"]["497799835:fr"],
        json!(review_id(0).parse::<u64>().unwrap())
    );
    let b = poll_commit(&mut second).await.unwrap();
    assert!(b.posts.is_empty());
}

/// Past the last page Apple answers either an empty feed (no `entry`) or, past page
/// 10, a plain-text error: both end the paging, not the poll.
#[tokio::test]
async fn the_empty_page_and_the_page_depth_error_end_the_paging() {
    let server = MockServer::start().await;
    serve_page(&server, "fr", "497799835", 1, json_body(&fr_slice(49..50))).await;
    let state = Arc::new(MemoryState::default());
    let toml = config(&server, "497799835", "fr");
    let mut s = source(&toml, state.clone(), &[]);
    assert_eq!(poll_commit(&mut s).await.unwrap().posts.len(), 1);

    let depth = fixture("appstore/itunes_customerreviews_555731861_us_11.error.txt");
    for page_two in [
        ResponseTemplate::new(200).set_body_bytes(fixture(
            "appstore/itunes_customerreviews_1510826067_gb_2.json",
        )),
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/plain")
            .set_body_bytes(depth.clone()),
        ResponseTemplate::new(400)
            .insert_header("content-type", "text/plain")
            .set_body_bytes(depth.clone()),
    ] {
        server.reset().await;
        serve_page(&server, "fr", "497799835", 1, json_body(&fr_slice(0..49))).await;
        serve_page(&server, "fr", "497799835", 2, page_two).await;
        let mut fresh = source(&toml, state.clone(), &[]);
        let b = fresh.poll().await.unwrap();
        assert_eq!(b.posts.len(), 49);
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn a_429_with_retry_after_fails_the_poll_and_keeps_the_cursor() {
    let server = MockServer::start().await;
    serve_page(&server, "fr", "497799835", 1, json_body(&fr_slice(40..50))).await;
    let (mut s, state) = fresh_source(&config(&server, "497799835", "fr"), &[]);
    poll_commit(&mut s).await.unwrap();
    let before = saved(&state, "reviews").unwrap();
    server.reset().await;
    serve_any_get(
        &server,
        ResponseTemplate::new(429).insert_header("retry-after", "120"),
    )
    .await;
    let e = s.poll().await.unwrap_err();
    assert!(
        matches!(e, SourceError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(120)),
        "{e:?}"
    );
    assert!(s.next_delay() >= Duration::from_secs(120));
    assert_eq!(saved(&state, "reviews").unwrap(), before);
}

#[tokio::test]
async fn hostile_pages_give_clean_text_or_a_clear_error() {
    let server = MockServer::start().await;
    let html = json!({"feed": {"entry": [{"id": {"label": "1"}, "im:rating": {"label": "1"},
        "author": {"name": {"label": "<a href='x'>Eve</a>"}}, "title": {"label": "<h1>Awful</h1>"},
        "content": {"label": "<div onclick=x>Acme <b>crashes</b> &amp; burns</div><script>steal()</script>"}}]}});
    serve_page(&server, "us", "1", 1, json_body(&html)).await;
    let full = fixture(FR);
    serve_page(
        &server,
        "us",
        "2",
        1,
        ResponseTemplate::new(200).set_body_bytes(full[..full.len() / 3].to_vec()),
    )
    .await;
    serve_page(
        &server,
        "us",
        "3",
        1,
        ResponseTemplate::new(200).set_body_bytes(vec![b' '; 2 * 1024 * 1024]),
    )
    .await;

    let (mut s, _) = fresh_source(&config(&server, "1", "us"), &[]);
    let b = s.poll().await.unwrap();
    let p = &b.posts[0];
    assert_eq!(
        (p.author.as_deref(), p.title.as_deref(), p.text.as_str()),
        (Some("Eve"), Some("Awful"), "Acme crashes & burns")
    );
    let (mut s, _) = fresh_source(&config(&server, "2", "us"), &[]);
    let e = s.poll().await.unwrap_err();
    assert!(matches!(e, SourceError::Malformed(_)), "{e:?}");
    let (mut s, _) = fresh_source(&config(&server, "3", "us"), &[]);
    let e = s.poll().await.unwrap_err();
    assert!(matches!(e, SourceError::TooLarge { .. }), "{e:?}");
}

#[test]
fn bad_app_ids_and_countries_are_refused_at_start() {
    let state = Arc::new(MemoryState::default());
    for (apps, countries) in [
        ("[\"acme\"]", "[\"us\"]"),
        ("[\"1\"]", "[\"usa\"]"),
        ("[]", "[\"us\"]"),
    ] {
        let cfg = source_config(&format!(
            "[[source]]\nkind = \"appstore\"\napps = {apps}\ncountries = {countries}\n"
        ));
        let e = overhear::sources::build(&cfg, &ctx(state.clone(), &[])).err();
        assert!(
            matches!(e, Some(SourceError::Config(_))),
            "{apps} {countries}"
        );
    }
}

/// More than 10 pages of new reviews since the last poll: the 10 pages Apple serves
/// are read, and the note says the older new ones were not.
#[tokio::test]
async fn more_new_reviews_than_ten_pages_are_read_to_the_bound_and_noted() {
    let server = MockServer::start().await;
    serve_page(&server, "fr", "497799835", 1, json_body(&fr_slice(49..50))).await;
    let (mut s, _) = fresh_source(&config(&server, "497799835", "fr"), &[]);
    poll_commit(&mut s).await.unwrap();

    server.reset().await;
    for n in 1..=11u32 {
        let mut page = fr_slice(0..50);
        for (i, e) in page["feed"]["entry"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            e["id"]["label"] = (9_000_000_000u64 - u64::from(n) * 100 - i as u64)
                .to_string()
                .into();
        }
        Mock::given(method("GET"))
            .and(path(page_path("fr", "497799835", n)))
            .respond_with(json_body(&page))
            .expect(if n == 11 { 0 } else { 1 })
            .mount(&server)
            .await;
    }
    let b = poll_commit(&mut s).await.unwrap();
    assert_eq!(b.posts.len(), 500);
    let note = s.health().note.unwrap_or_default();
    assert!(note.contains("more than 10 pages"), "{note}");
}

/// `overhear backfill` pages past page 1 on a first poll: down to the empty page for
/// undated reviews, down to its start for dated ones.
#[tokio::test]
async fn backfill_pages_on_to_the_end_or_to_its_start() {
    let server = MockServer::start().await;
    for n in 1..=2 {
        let name = format!("appstore/itunes_customerreviews_1510826067_gb_{n}.json");
        let page = ResponseTemplate::new(200).set_body_bytes(fixture(&name));
        serve_page(&server, "gb", "1510826067", n, page).await;
    }
    // the French page, dated two reviews a day from 2024-01-31 down
    let mut dated = fr_slice(0..50);
    for (i, e) in dated["feed"]["entry"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        e["updated"] = json!({"label": format!("2024-01-{:02}T12:00:00-07:00", 31 - i / 2)});
    }
    serve_page(&server, "fr", "497799835", 1, json_body(&dated)).await;
    let mut c = ctx(Arc::new(MemoryState::default()), &[]);
    c.backfill_since = Some("2024-01-25T00:00:00Z".parse().unwrap());
    let build = |app: &str, cc: &str| {
        let toml = config(&server, app, cc);
        overhear::sources::build(&source_config(&toml), &c).unwrap()
    };
    let mut gb = build("1510826067", "gb");
    assert_eq!(gb.poll().await.unwrap().posts.len(), 4);
    let mut fr = build("497799835", "fr");
    let b = fr.poll().await.unwrap();
    // 2024-01-31 down to 2024-01-25: 7 days, two reviews a day
    assert_eq!(b.posts.len(), 14);
    assert!(b.posts.iter().all(|p| !p.created_at_is_first_seen));
    let asked = server.received_requests().await.unwrap().len();
    assert_eq!(asked, 3, "gb pages 1 and 2, fr page 1");
}
