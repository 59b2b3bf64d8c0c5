//! The App Store page parser on Apple's recorded feeds (`tests/fixtures/feeds/appstore/`,
//! provenance in its SOURCES.md) and on edited copies of them.

use super::{app_id, country, parse_page, Page, Review};

macro_rules! feed {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/feeds/appstore/",
            $name
        ))
        .as_slice()
    };
}

fn reviews(body: &[u8], app: &str, cc: &str) -> Vec<Review> {
    match parse_page(body, app, cc, "appstore") {
        Ok(Page::Reviews(r)) => r,
        other => panic!("expected reviews, got {other:?}"),
    }
}

#[test]
fn a_gb_page_keeps_emoji_ratings_and_authors() {
    let r = reviews(
        feed!("itunes_customerreviews_1510826067_gb_1.json"),
        "1510826067",
        "gb",
    );
    assert_eq!(r.len(), 4);
    let p = &r[0].post;
    assert_eq!(p.id, "appstore:1510826067:gb:6504352127");
    assert_eq!(
        p.url,
        "https://apps.apple.com/gb/app/id1510826067?see-all=reviews"
    );
    assert_eq!(p.site, "apps.apple.com/gb");
    assert_eq!(p.author.as_deref(), Some("immeallme"));
    assert_eq!(p.title.as_deref(), Some("Amazing photos integration"));
    assert!(p.text.ends_with("you've been to! 👏"), "{}", p.text);
    assert_eq!(p.rating, Some(5));
    assert_eq!(p.source, "appstore");
    assert_eq!(r[0].id, 6504352127);
    assert_eq!(r[3].post.author.as_deref(), Some("Kel@Kai boon"));
}

/// The 2021 feeds date no review: the post is dated when first seen, and says so.
#[test]
fn undated_reviews_are_dated_first_seen() {
    let r = reviews(
        feed!("itunes_customerreviews_1510826067_gb_1.json"),
        "1510826067",
        "gb",
    );
    assert!(r.iter().all(|r| r.at.is_none()));
    assert!(r.iter().all(|r| r.post.created_at_is_first_seen));
}

#[test]
fn chinese_and_french_reviews_are_read_whole() {
    let cn = reviews(
        feed!("itunes_customerreviews_497799835_cn_10.json"),
        "497799835",
        "cn",
    );
    assert_eq!(cn.len(), 50);
    assert_eq!(cn[0].post.title.as_deref(), Some("越来越烂"));
    assert_eq!(
        cn[0].post.text,
        "其他的工具都是越开发越好用，就Xcode例外，越开发越难用"
    );
    assert_eq!(cn[0].post.rating, Some(1));
    let fr = reviews(
        feed!("itunes_customerreviews_497799835_fr_1.json"),
        "497799835",
        "fr",
    );
    assert_eq!(fr.len(), 50);
    assert_eq!(fr[0].post.author.as_deref(), Some("Fouinneur@"));
    assert!(fr[0].post.text.contains("galère"), "{}", fr[0].post.text);
    assert_eq!(fr[0].post.rating, Some(4));
    assert_eq!(fr[1].post.rating, Some(1));
    // newest first: ids fall down the page
    assert!(fr.windows(2).all(|w| w[0].id > w[1].id));
}

#[test]
fn the_empty_page_has_no_reviews_and_page_11_ends_the_paging() {
    let empty = reviews(
        feed!("itunes_customerreviews_1510826067_gb_2.json"),
        "1510826067",
        "gb",
    );
    assert!(empty.is_empty());
    assert!(matches!(
        parse_page(
            feed!("itunes_customerreviews_555731861_us_11.error.txt"),
            "555731861",
            "us",
            "appstore"
        ),
        Ok(Page::End)
    ));
}

/// Older feeds list the app itself first (no rating); a page of one review is an
/// object; a review may miss its author, title and content; `updated` dates it.
#[test]
fn the_app_entry_is_skipped_and_a_lone_review_is_an_object() {
    let one = r#"{"feed":{"entry":{"id":{"label":"42"},"im:rating":{"label":"2"},
        "updated":{"label":"2024-03-01T10:00:00-07:00"}}}}"#;
    let r = reviews(one.as_bytes(), "1", "us");
    assert_eq!(r.len(), 1);
    let p = &r[0].post;
    assert_eq!((p.author.clone(), p.title.clone()), (None, None));
    assert_eq!(p.text, "");
    assert_eq!(p.rating, Some(2));
    assert_eq!(p.created_at.to_rfc3339(), "2024-03-01T17:00:00+00:00");
    assert!(!p.created_at_is_first_seen);

    let with_app = r#"{"feed":{"entry":[
        {"im:name":{"label":"Acme"},"id":{"label":"https://apps.apple.com/us/app/acme/id1"}},
        {"id":{"label":"43"},"im:rating":{"label":"9"},"title":{"label":"x"}},
        {"im:rating":{"label":"5"}}]}}"#;
    let r = reviews(with_app.as_bytes(), "1", "us");
    assert_eq!(
        r.len(),
        1,
        "the app and the review without an id are skipped"
    );
    assert_eq!(r[0].post.rating, None, "9 stars is no rating");
}

#[test]
fn html_in_every_field_is_clean_text_and_broken_json_an_error() {
    let hostile = r#"{"feed":{"entry":[{"id":{"label":"7"},"im:rating":{"label":"1"},
        "author":{"name":{"label":"<b>Eve</b>"}},"title":{"label":"<script>alert(1)</script>Bad"},
        "content":{"label":"<p>Acme <a href=\"https://evil.test/x\">broke</a> &amp; <img src=x onerror=y>it</p>"}}]}}"#;
    let r = reviews(hostile.as_bytes(), "1", "us");
    let p = &r[0].post;
    assert_eq!(p.author.as_deref(), Some("Eve"));
    assert_eq!(p.title.as_deref(), Some("Bad"));
    assert_eq!(p.text, "Acme broke & it");
    assert_eq!(p.links, vec!["https://evil.test/x"]);

    let full = feed!("itunes_customerreviews_497799835_fr_1.json");
    let cut = &full[..full.len() / 2];
    let e = parse_page(cut, "497799835", "fr", "appstore").unwrap_err();
    assert!(e.to_string().contains("invalid JSON"), "{e}");
    assert!(parse_page(b"[1,2]", "1", "us", "appstore").is_err());
}

#[test]
fn app_ids_and_countries_as_written_in_config() {
    assert_eq!(app_id("id284882215").as_deref(), Some("284882215"));
    assert_eq!(app_id(" 284882215 ").as_deref(), Some("284882215"));
    assert_eq!(app_id("id"), None);
    assert_eq!(app_id("28488/../x"), None);
    assert_eq!(country("GB").as_deref(), Some("gb"));
    assert_eq!(country("gbr"), None);
    assert_eq!(country("g/"), None);
}
