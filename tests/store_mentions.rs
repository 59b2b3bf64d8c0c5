//! The store keeps each post once, follows edits, and answers queries from its indexes.

mod sources_support;
mod store_support;

use overhear::store::{Bucket, MentionFilter, Store, Upsert};
use store_support::*;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn the_same_post_twice_is_one_mention() {
    let (_d, s) = open();
    let p = post(
        "hackernews",
        "1",
        "https://example.com/a",
        "acme is slow",
        at(0),
    );
    let first = s.upsert_mention(&p, &[brand("Acme")], at(10)).unwrap();
    let Upsert::New { id } = first.clone() else {
        panic!("{first:?}")
    };
    assert_eq!(id.len(), 16);
    assert_eq!(
        s.upsert_mention(&p, &[brand("Acme")], at(20)).unwrap(),
        Upsert::Unchanged { id: id.clone() }
    );
    assert_eq!(s.len(), 1);
    let m = s.get(&id).unwrap().unwrap();
    assert_eq!(m.first_seen, at(10));
    assert_eq!(m.updated_at, None);
    assert!(s.check().unwrap().is_ok());
}

#[test]
fn the_same_url_from_two_sources_is_one_mention_with_both_brands() {
    let (_d, s) = open();
    let hn = post(
        "hackernews",
        "1",
        "https://Example.com/a/?utm_source=hn#top",
        "acme",
        at(0),
    );
    let rss = post(
        "rss",
        "guid-9",
        "https://example.com/a",
        "acme and globex",
        at(5),
    );
    let id = s
        .upsert_mention(&hn, &[brand("Acme")], at(10))
        .unwrap()
        .id()
        .to_string();
    let second = s
        .upsert_mention(&rss, &[brand("Acme"), brand("Globex")], at(11))
        .unwrap();
    assert_eq!(
        second,
        Upsert::Updated {
            id: id.clone(),
            text_changed: false
        }
    );
    assert_eq!(s.len(), 1);
    let m = s.get(&id).unwrap().unwrap();
    assert_eq!(m.post.id, "hackernews:1", "the first-seen post is kept");
    let brands: Vec<_> = m.brands.iter().map(|b| b.brand.as_str()).collect();
    assert_eq!(brands, ["Acme", "Globex"]);
    // the RSS copy again, and by its own id, finds the same mention
    assert_eq!(
        s.upsert_mention(&rss, &[brand("Globex")], at(12)).unwrap(),
        Upsert::Unchanged { id: id.clone() }
    );
    assert_eq!(
        s.resolve("rss:guid-9").unwrap().as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        s.resolve("https://example.com/a/").unwrap().as_deref(),
        Some(id.as_str())
    );
    let f = MentionFilter {
        brand: Some("globex".into()),
        ..Default::default()
    };
    assert_eq!(s.count(&f).unwrap(), 1);
    assert!(s.check().unwrap().is_ok());
}

#[test]
fn items_of_one_feed_sharing_a_link_stay_apart() {
    let (_d, s) = open();
    let a = post("rss", "a", "https://example.com/news", "acme one", at(0));
    let b = post("rss", "b", "https://example.com/news", "acme two", at(1));
    let ia = s.upsert_mention(&a, &[brand("Acme")], at(2)).unwrap();
    let ib = s.upsert_mention(&b, &[brand("Acme")], at(3)).unwrap();
    assert!(matches!(ia, Upsert::New { .. }) && matches!(ib, Upsert::New { .. }));
    assert_ne!(ia.id(), ib.id());
    assert_eq!(s.len(), 2);
    assert!(s.check().unwrap().is_ok());
}

#[test]
fn an_edit_updates_the_mention_and_asks_for_classification_again() {
    let (_d, s) = open();
    let p = post(
        "reddit",
        "t3_x",
        "https://reddit.com/r/x/1",
        "acme is fine",
        at(0),
    );
    let id = s
        .upsert_mention(&p, &[brand("Acme")], at(1))
        .unwrap()
        .id()
        .to_string();
    s.set_sentiment(&id, &sentiment("neutral", 0.7)).unwrap();
    assert!(s.unclassified(10).unwrap().is_empty());

    let mut edited = p.clone();
    edited.text = "acme is awful".into();
    assert_eq!(
        s.upsert_mention(&edited, &[brand("Acme")], at(2)).unwrap(),
        Upsert::Updated {
            id: id.clone(),
            text_changed: true
        }
    );
    let m = s.get(&id).unwrap().unwrap();
    assert_eq!(m.post.text, "acme is awful");
    assert_eq!(m.sentiment, None);
    assert_eq!(m.updated_at, Some(at(2)));
    assert_eq!(s.unclassified(10).unwrap()[0].id, id);
    let neutral = MentionFilter {
        sentiment: Some("neutral".into()),
        ..Default::default()
    };
    assert_eq!(s.count(&neutral).unwrap(), 0);

    let mut more_points = edited.clone();
    more_points.engagement = Some(40);
    assert_eq!(
        s.upsert_mention(&more_points, &[brand("Acme")], at(3))
            .unwrap(),
        Upsert::Updated {
            id: id.clone(),
            text_changed: false
        }
    );
    assert_eq!(s.len(), 1);
    assert!(s.check().unwrap().is_ok());
}

#[test]
fn list_filters_by_brand_sentiment_source_and_time_newest_first() {
    let (_d, s) = open();
    for i in 0..30i64 {
        let src = if i % 2 == 0 { "reddit" } else { "hackernews" };
        let b = if i % 3 == 0 { "Globex" } else { "Acme" };
        let p = post(
            src,
            &i.to_string(),
            &format!("https://e.com/{i}"),
            "x",
            at(i * 3600),
        );
        let id = s
            .upsert_mention(&p, &[brand(b)], at(i * 3600 + 1))
            .unwrap()
            .id()
            .to_string();
        if i % 5 != 0 {
            let label = if i % 2 == 0 { "negative" } else { "positive" };
            s.set_sentiment(&id, &sentiment(label, 0.9)).unwrap();
        }
    }
    let f = MentionFilter {
        brand: Some("ACME".into()),
        since: Some(at(10 * 3600)),
        ..Default::default()
    };
    let got = s.list(&f).unwrap();
    let want: Vec<i64> = (10..30).rev().filter(|i| i % 3 != 0).collect();
    let ids: Vec<i64> = got
        .iter()
        .map(|m| m.post.id.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, want);
    assert_eq!(s.count(&f).unwrap(), want.len() as u64);

    let f = MentionFilter {
        brand: Some("acme".into()),
        sentiment: Some("negative".into()),
        source: Some("reddit".into()),
        until: Some(at(20 * 3600)),
        limit: Some(2),
        ..Default::default()
    };
    let got: Vec<String> = s.list(&f).unwrap().into_iter().map(|m| m.post.id).collect();
    assert_eq!(got, ["reddit:16", "reddit:14"]);

    let unclassified = MentionFilter {
        sentiment: Some("unclassified".into()),
        ..Default::default()
    };
    assert_eq!(s.count(&unclassified).unwrap(), 6);
    assert_eq!(s.unclassified(100).unwrap().len(), 6);

    let rows = s.stats(Some("acme"), None, Bucket::Day).unwrap();
    let total: u64 = rows.iter().map(|r| r.total).sum();
    assert_eq!(total, 20);
    let neg: u64 = rows
        .iter()
        .map(|r| r.counts.get("negative").copied().unwrap_or(0))
        .sum();
    assert_eq!(
        neg,
        (0..30)
            .filter(|i| i % 3 != 0 && i % 5 != 0 && i % 2 == 0)
            .count() as u64
    );
    let weeks = s.stats(None, None, Bucket::Week).unwrap();
    assert_eq!(weeks.iter().map(|r| r.total).sum::<u64>(), 30);
    assert!(s.check().unwrap().is_ok());
}

#[test]
fn retention_removes_old_mentions_and_their_index_entries_only() {
    let (_d, s) = open();
    let now = chrono::Utc::now();
    let day = chrono::Duration::days(1);
    let mut keep_ids = Vec::new();
    for i in 0..20i64 {
        let p = post(
            "rss",
            &i.to_string(),
            &format!("https://e.com/{i}"),
            "x",
            now - day * (i as i32) * 10,
        );
        let u = s
            .upsert_mention(&p, &[brand("Acme"), brand("Globex")], now)
            .unwrap();
        if i % 2 == 0 {
            s.set_sentiment(u.id(), &sentiment("negative", 0.9))
                .unwrap();
        }
        if (i * 10) < 100 {
            keep_ids.push(u.id().to_string());
        }
    }
    let before = s.check().unwrap();
    let removed = s
        .retention(std::time::Duration::from_secs(95 * 86400))
        .unwrap();
    assert_eq!(removed, 10);
    assert_eq!(s.len(), 10);
    for id in &keep_ids {
        assert!(s.get(id).unwrap().is_some());
    }
    let after = s.check().unwrap();
    assert!(after.is_ok(), "{after:?}");
    assert!(after.index_entries < before.index_entries);
    assert_eq!(after.aliases, 20, "two aliases per kept mention");
    for b in ["acme", "globex"] {
        let f = MentionFilter {
            brand: Some(b.into()),
            ..Default::default()
        };
        assert_eq!(s.count(&f).unwrap(), 10);
    }
    let neg = MentionFilter {
        sentiment: Some("negative".into()),
        ..Default::default()
    };
    assert_eq!(s.count(&neg).unwrap(), 5);
    assert_eq!(s.resolve("rss:19").unwrap(), None);
    // a removed post seen again is new again
    let old = post("rss", "19", "https://e.com/19", "x", now);
    assert!(matches!(
        s.upsert_mention(&old, &[brand("Acme")], now).unwrap(),
        Upsert::New { .. }
    ));
}

#[test]
fn check_finds_a_damaged_index() {
    let (_d, s) = open();
    let p = post("rss", "1", "https://e.com/1", "x", at(0));
    s.upsert_mention(&p, &[brand("Acme")], at(1)).unwrap();
    let t = s.tree("idx_brand").unwrap();
    let k = t.iter().next().unwrap().unwrap().0;
    t.remove(k.clone()).unwrap();
    let r = s.check().unwrap();
    assert!(!r.is_ok());
    assert!(r.problems[0].contains("idx_brand"), "{r:?}");
    let mut bogus = k.to_vec();
    bogus[0] = b'z';
    t.insert(bogus, &b""[..]).unwrap();
    assert_eq!(s.check().unwrap().problem_count, 2);
}

#[test]
fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = Store::open(dir.path()).unwrap();
        let p = post("rss", "1", "https://e.com/1", "x", at(0));
        let id = s
            .upsert_mention(&p, &[brand("Acme")], at(1))
            .unwrap()
            .id()
            .to_string();
        s.set_sentiment(&id, &sentiment("negative", 0.95)).unwrap();
        id
    };
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.get(&id).unwrap().unwrap().sentiment.unwrap().label,
        "negative"
    );
    assert!(s.check().unwrap().is_ok());
}

#[test]
fn compaction_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        for i in 0..200 {
            let p = post(
                "rss",
                &i.to_string(),
                &format!("https://e.com/{i}"),
                "x",
                at(i),
            );
            s.upsert_mention(&p, &[brand("Acme")], at(1)).unwrap();
        }
        s.remove_older_than(at(100)).unwrap();
    }
    let c = Store::compact(dir.path()).unwrap();
    assert!(c.after > 0);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.len(), 100);
    assert!(s.check().unwrap().is_ok());
    assert!(!dir.path().join("db.old").exists() && !dir.path().join("db.compact").exists());
}

#[test]
fn source_state_is_kept_across_reopen() {
    use overhear::sources::StateStore;
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.load("hn").unwrap(), None);
        s.save("hn", b"cursor=42").unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.load("hn").unwrap().as_deref(), Some(&b"cursor=42"[..]));
}

#[test]
fn a_brand_added_to_a_classified_mention_sends_it_back_through_classification() {
    let (_d, s) = open();
    let p = post(
        "rss",
        "g1",
        "https://example.com/x",
        "acme and globex",
        at(0),
    );
    let id = s
        .upsert_mention(&p, &[brand("Acme")], at(1))
        .unwrap()
        .id()
        .to_string();
    s.set_sentiment(&id, &sentiment("negative", 0.9)).unwrap();
    // the same brand again: nothing to do
    assert_eq!(
        s.upsert_mention(&p, &[brand("Acme")], at(2)).unwrap(),
        Upsert::Unchanged { id: id.clone() }
    );
    // a new brand: classified (and so alert-evaluated) again, and durable as such
    assert_eq!(
        s.upsert_mention(&p, &[brand("Acme"), brand("Globex")], at(3))
            .unwrap(),
        Upsert::Updated {
            id: id.clone(),
            text_changed: true
        }
    );
    assert_eq!(s.get(&id).unwrap().unwrap().sentiment, None);
    assert_eq!(s.unclassified(10).unwrap()[0].id, id);
}

/// Cross-source dedup with posts built by the real sources from recorded responses:
/// the same article from two feeds is one mention; a Hacker News thread about that
/// article is a discussion of it, a mention of its own (the article in its `links`).
#[tokio::test]
async fn the_same_article_from_two_feeds_is_one_mention_and_an_hn_thread_is_its_own() {
    use overhear::matcher::{BrandConfig, Matcher};
    use wiremock::{MockServer, ResponseTemplate};

    let article =
        "http://in.reuters.com/article/2014/06/19/apple-google-settlement-idINL2N0P01ZI20140619";
    let server = MockServer::start().await;
    let mut hn = sources_support::fixture_json("hn_algolia_search_by_date_story_apple.json");
    hn["nbPages"] = serde_json::json!(1);
    sources_support::serve_get(
        &server,
        "/hn/search_by_date",
        sources_support::json_body(&hn),
    )
    .await;
    for (path, guid) in [("/a.xml", "a-1"), ("/b.xml", "b-77")] {
        let feed = format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>http://news.test/</link><description>d</description>\
             <item><guid isPermaLink=\"false\">{guid}</guid><title>Judge says concerned about Apple, Google hiring settlement</title>\
             <link>{article}?utm_source=feed</link><description>The judge said so.</description><pubDate>Fri, 20 Jun 2014 03:00:00 GMT</pubDate></item></channel></rss>"
        );
        sources_support::serve_get(
            &server,
            path,
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_string(feed),
        )
        .await;
    }
    let uri = server.uri();
    let configs = [
        format!("[[source]]\nkind = \"hackernews\"\nbase_url = \"{uri}/hn\"\n"),
        format!("[[source]]\nkind = \"rss\"\nname = \"feed-a\"\nurl = \"{uri}/a.xml\"\n"),
        format!("[[source]]\nkind = \"rss\"\nname = \"feed-b\"\nurl = \"{uri}/b.xml\"\n"),
    ];
    let matcher = Matcher::compile(&[BrandConfig::from_query("Apple", "apple")]).unwrap();
    let (_d, s) = open();
    let mut by_source = Vec::new();
    for c in &configs {
        let (mut src, _state) = sources_support::fresh_source(c, &["apple"]);
        let batch = sources_support::poll_commit(&mut src).await.unwrap();
        assert_eq!(batch.posts.len(), 1, "{c}: {:?}", batch.posts);
        let post = batch.posts[0].clone();
        let brands = matcher.match_post(&post);
        assert!(!brands.is_empty(), "{post:?}");
        let id = s
            .upsert_mention(&post, &brands, at(1))
            .unwrap()
            .id()
            .to_string();
        by_source.push((post, id));
    }
    let (hn_post, hn_id) = &by_source[0];
    assert_eq!(hn_post.url, "https://news.ycombinator.com/item?id=7919424");
    assert!(
        hn_post.links.iter().any(|l| l.starts_with(article)),
        "{hn_post:?}"
    );
    assert_eq!(by_source[1].1, by_source[2].1, "one article, one mention");
    assert_ne!(
        hn_id, &by_source[1].1,
        "the HN thread is a mention of its own"
    );
    assert_eq!(s.len(), 2);
}
