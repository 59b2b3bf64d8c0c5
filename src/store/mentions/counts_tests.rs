//! Unit tests of `counts`: every write moves the counters in step with the
//! mentions, `check` notices a wrong one, a recount and the schema 2 upgrade
//! rebuild them.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::post::{BrandMatch, Post, Sentiment};
use crate::store::{Action, Bucket, Status, Store, Transition, Via};

fn day(d: i64, h: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap() + Duration::days(d) + Duration::hours(h)
}

fn post(n: u32, at: DateTime<Utc>) -> Post {
    Post {
        id: format!("rss:{n}"),
        url: format!("https://example.com/{n}"),
        created_at: at,
        ..crate::matcher::tests::post("acme and globex broke my order")
    }
}

fn brand(name: &str) -> BrandMatch {
    BrandMatch {
        brand: name.into(),
        query: "default".into(),
        terms: vec![],
    }
}

fn label(l: &str) -> Sentiment {
    Sentiment {
        label: l.into(),
        scores: vec![(l.into(), 0.9)],
        model: "test@0".into(),
    }
}

fn ack(by: &str) -> Transition {
    Transition {
        action: Action::Ack,
        by: by.into(),
        via: Via::Cli,
        note: None,
        corrected: None,
    }
}

/// (day, label per brand of "negative" count for acme, for all)
fn negatives_per_day(s: &Store, brand: Option<&str>) -> Vec<(String, u64, u64)> {
    s.stats(brand, None, Bucket::Day)
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.bucket.to_string(),
                r.total,
                r.counts.get("negative").copied().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn writes_move_the_counters_with_the_mentions() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let now = day(10, 0);
    // 0: acme, day 0; 1: acme + globex, day 0; 2: globex, day 1
    let a = s
        .upsert_mention(&post(0, day(0, 3)), &[brand("Acme")], now)
        .unwrap();
    let b = s
        .upsert_mention(&post(1, day(0, 23)), &[brand("Acme"), brand("Globex")], now)
        .unwrap();
    let c = s
        .upsert_mention(&post(2, day(1, 1)), &[brand("globex")], now)
        .unwrap();
    let (a, b, c) = (a.id().to_string(), b.id().to_string(), c.id().to_string());
    assert_eq!(
        negatives_per_day(&s, Some("acme")),
        vec![("2026-03-02".to_string(), 2, 0)]
    );
    // all brands: the shared mention once
    assert_eq!(
        negatives_per_day(&s, None),
        vec![("2026-03-02".into(), 2, 0), ("2026-03-03".into(), 1, 0)]
    );
    assert_eq!(s.count_in(Status::New, "unclassified", None).unwrap(), 3);

    // classifying moves them from unclassified to the label
    s.set_sentiment(&a, &label("negative")).unwrap();
    s.set_sentiment(&b, &label("Negative")).unwrap();
    s.set_sentiment(&c, &label("positive")).unwrap();
    assert_eq!(
        negatives_per_day(&s, Some("ACME")),
        vec![("2026-03-02".to_string(), 2, 2)]
    );
    assert_eq!(
        s.count_in(Status::New, "negative", Some("acme")).unwrap(),
        2
    );
    assert_eq!(
        s.count_in(Status::New, "negative", Some("globex")).unwrap(),
        1
    );
    assert_eq!(s.count_in(Status::New, "negative", None).unwrap(), 2);
    assert_eq!(s.count_in(Status::New, "unclassified", None).unwrap(), 0);

    // triage moves the status counters, not the daily ones
    s.triage(&b, &ack("dana"), now).unwrap();
    assert_eq!(
        s.count_in(Status::New, "negative", Some("globex")).unwrap(),
        0
    );
    assert_eq!(
        s.count_in(Status::Acknowledged, "negative", Some("globex"))
            .unwrap(),
        1
    );
    assert_eq!(negatives_per_day(&s, Some("globex")).len(), 2);
    // ... and keeps a summary for the dashboard
    let t = s.triaged().unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].acked_at, t[0].resolved_at), (Some(now), None));
    assert_eq!(t[0].brands, vec!["Acme".to_string(), "Globex".to_string()]);
    // an alert stamp changes no fact
    s.set_alerted(&a, now).unwrap();
    assert!(s.check().unwrap().is_ok(), "{:?}", s.check());

    // weeks sum the days; since counts its whole day
    let weeks = s.stats(None, None, Bucket::Week).unwrap();
    assert_eq!(weeks.len(), 1);
    assert_eq!(weeks[0].total, 3);
    let from_day_1 = s.stats(None, Some(day(1, 12)), Bucket::Day).unwrap();
    assert_eq!(from_day_1.len(), 1, "{from_day_1:?}");
    assert_eq!(from_day_1[0].total, 1);

    // open negatives by age: the recent ones listed, the older counted
    let (recent, older) = s.times_in(Status::New, "negative", day(0, 12)).unwrap();
    assert_eq!((recent.len(), older), (0, 1));
    let (recent, older) = s.times_in(Status::New, "negative", day(0, 0)).unwrap();
    assert_eq!((recent, older), (vec![day(0, 3)], 0));

    // deleting takes them away, down to no key at all
    s.remove_older_than(day(5, 0)).unwrap();
    assert!(s.is_empty());
    assert!(negatives_per_day(&s, None).is_empty());
    assert!(s.t.counts.is_empty());
    assert!(s.triaged().unwrap().is_empty());
    assert!(s.check().unwrap().is_ok());
}

#[test]
fn check_names_a_wrong_counter_and_a_recount_mends_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let now = day(10, 0);
    let a = s
        .upsert_mention(&post(0, day(0, 3)), &[brand("Acme")], now)
        .unwrap();
    s.set_sentiment(a.id(), &label("negative")).unwrap();
    // a counter the mentions do not back, and one off by one
    let key = super::status_key("new", "negative", "acme");
    s.t.counts.insert(&key, &7u64.to_be_bytes()).unwrap();
    s.t.counts
        .insert(
            super::status_key("resolved", "negative", ""),
            &1u64.to_be_bytes(),
        )
        .unwrap();
    let r = s.check().unwrap();
    assert_eq!(r.problem_count, 2, "{:?}", r.problems);
    assert!(
        r.problems
            .iter()
            .any(|p| p == "counter of new negative mentions of acme is 7, the mentions say 1"),
        "{:?}",
        r.problems
    );
    assert_eq!(s.recount().unwrap(), 1);
    assert!(s.check().unwrap().is_ok(), "{:?}", s.check());
    assert_eq!(
        s.count_in(Status::New, "negative", Some("Acme")).unwrap(),
        1
    );
}

#[test]
fn a_schema_2_database_is_counted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let now = day(10, 0);
    for n in 0..5 {
        let m = s
            .upsert_mention(&post(n, day(i64::from(n), 0)), &[brand("Acme")], now)
            .unwrap();
        s.set_sentiment(m.id(), &label("negative")).unwrap();
    }
    s.t.counts.clear().unwrap();
    s.tree("meta")
        .unwrap()
        .insert("schema_version", "2")
        .unwrap();
    s.flush().unwrap();
    assert!(!s.check().unwrap().is_ok());
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert!(s.check().unwrap().is_ok(), "{:?}", s.check());
    assert_eq!(s.count_in(Status::New, "negative", None).unwrap(), 5);
    assert_eq!(negatives_per_day(&s, Some("acme")).len(), 5);
}
