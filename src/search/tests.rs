//! The index against a real store in a temporary directory: updates, deletes, the
//! catch-up, rebuilding a damaged index, orders and cursors.

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::*;
use crate::post::{BrandMatch, Post, Sentiment};
use crate::store::{Action, Store, Transition, Via};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 0)
        .single()
        .unwrap_or_default()
}

fn post(n: u32, source: &str, title: Option<&str>, text: &str, secs: i64) -> Post {
    Post {
        rating: None,
        owned_by: None,
        id: format!("{source}:{n}"),
        url: format!("https://e.test/{n}"),
        author: Some(format!("user{n}")),
        title: title.map(str::to_string),
        text: text.to_string(),
        created_at: at(secs),
        created_at_is_first_seen: false,
        source: source.to_string(),
        source_name: format!("{source}-feed"),
        site: "e.test".into(),
        parent_id: None,
        thread_id: None,
        engagement: None,
        lang: None,
        links: Vec::new(),
    }
}

fn brand(name: &str) -> BrandMatch {
    BrandMatch {
        brand: name.to_string(),
        query: "default".into(),
        terms: Vec::new(),
    }
}

fn hook() -> (ErrorHook, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    (
        Arc::new(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        }),
        n,
    )
}

/// Five mentions; their ids in the order stored.
fn fill(store: &Store) -> Vec<String> {
    let items = [
        (
            post(
                1,
                "reddit",
                Some("Refund please"),
                "acme never sent my order",
                10,
            ),
            "Acme",
        ),
        (
            post(
                2,
                "hackernews",
                None,
                "the refund arrived, shipping was slow",
                20,
            ),
            "Acme",
        ),
        (
            post(3, "reddit", None, "Acme support lost my order twice", 30),
            "Acme",
        ),
        (
            post(4, "rss", None, "globex refunds are quick", 40),
            "Globex",
        ),
        (post(5, "mastodon", None, "nothing to see here", 50), "Acme"),
    ];
    let pairs: Vec<(Post, Vec<BrandMatch>)> = items
        .iter()
        .map(|(p, b)| (p.clone(), vec![brand(b)]))
        .collect();
    let ups = store.upsert_many(&pairs, at(100)).expect("upsert");
    ups.iter().map(|u| u.id().to_string()).collect()
}

/// A store in a temporary directory with [`fill`]'s mentions.
fn filled() -> (tempfile::TempDir, Store, Vec<String>) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    let ids = fill(&store);
    (dir, store, ids)
}

fn q(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        limit: 50,
        ..Default::default()
    }
}

fn started(dir: &Path, store: &Store) -> (Search, Arc<AtomicUsize>) {
    let (h, errors) = hook();
    let s = Search::start(dir, store, h).expect("start");
    (s, errors)
}

/// Tells the index these changed and waits until they are searchable.
fn told(s: &Search, ids: &[String]) {
    s.changed(ids.to_vec());
    s.flush(Duration::from_secs(30)).expect("flush");
}

/// Waits until the catch-up has made `q` give `want` (it runs in the background).
fn eventually(s: &Search, query: &SearchQuery, want: Vec<String>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = s.query(query).expect("query");
        if got == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{got:?} != {want:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn words_phrases_not_fields_and_dates() {
    let (dir, store, ids) = filled();
    let (s, errors) = started(dir.path(), &store);
    told(&s, &ids);
    let find = |text: &str| s.query(&q(text)).expect(text);
    // newest first; stems: refunds/refund; title and text
    assert_eq!(
        find("refund"),
        vec![ids[3].clone(), ids[1].clone(), ids[0].clone()]
    );
    assert_eq!(
        find("refund NOT shipping"),
        vec![ids[3].clone(), ids[0].clone()]
    );
    // English forms: shipped is shipping
    assert_eq!(find("shipped"), vec![ids[1].clone()]);
    assert_eq!(find("refund -shipping -brand:globex"), vec![ids[0].clone()]);
    assert_eq!(find("\"lost my order\""), vec![ids[2].clone()]);
    assert_eq!(find("\"my order\""), vec![ids[2].clone(), ids[0].clone()]);
    assert!(find("\"order my\"").is_empty());
    assert_eq!(
        find("brand:acme source:reddit"),
        vec![ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(
        find("source:reddit-feed order"),
        vec![ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(find("title:refund"), vec![ids[0].clone()]);
    assert_eq!(find("author:USER5"), vec![ids[4].clone()]);
    assert_eq!(
        find("(globex OR nothing) status:new"),
        vec![ids[4].clone(), ids[3].clone()]
    );
    assert_eq!(find("NOT brand:acme"), vec![ids[3].clone()]);
    assert_eq!(
        find("sentiment:unclassified brand:globex"),
        vec![ids[3].clone()]
    );
    let mut dated = q("order OR refund");
    dated.since = Some(at(20));
    dated.until = Some(at(40));
    assert_eq!(
        s.query(&dated).expect("dated"),
        vec![ids[2].clone(), ids[1].clone()]
    );
    dated.brand = Some("ACME".into());
    dated.source = Some("hackernews".into());
    assert_eq!(s.query(&dated).expect("filtered"), vec![ids[1].clone()]);
    let e = s.query(&q("refund AND")).expect_err("syntax");
    assert!(matches!(e, SearchError::Syntax(_)), "{e}");
    let e = s.query(&q("!!!")).expect_err("no terms");
    assert!(e.to_string().contains("no letters or digits"), "{e}");
    // syntax errors are the user's, not the index's
    assert_eq!(errors.load(Ordering::SeqCst), 0);
    s.close(Duration::from_secs(30));
}

#[test]
fn updates_follow_the_store_and_deletes_remove() {
    let (dir, store, ids) = filled();
    let (s, _) = started(dir.path(), &store);
    told(&s, &ids);
    let neg = Sentiment {
        label: "negative".into(),
        scores: vec![("negative".into(), 0.9)],
        model: "t@0".into(),
    };
    store.set_sentiment(&ids[2], &neg).expect("sentiment");
    let t = Transition {
        action: Action::Ack,
        by: "dana".into(),
        via: Via::Cli,
        note: None,
        corrected: None,
    };
    store.triage(&ids[2], &t, at(200)).expect("ack");
    // an edit of post 1: the text changes
    let edited = post(1, "reddit", Some("Thanks"), "all sorted now", 10);
    store
        .upsert_many(&[(edited, vec![brand("Acme")])], at(300))
        .expect("edit");
    told(&s, &[ids[2].clone(), ids[0].clone()]);
    let find = |text: &str| s.query(&q(text)).expect(text);
    assert_eq!(
        find("sentiment:negative status:acknowledged assignee:dana"),
        vec![ids[2].clone()]
    );
    assert_eq!(find("refund"), vec![ids[3].clone(), ids[1].clone()]);
    assert_eq!(find("sorted"), vec![ids[0].clone()]);
    assert_eq!(s.index().num_docs(), 5);

    store.remove_older_than(at(25)).expect("retention");
    told(&s, &ids);
    assert_eq!(find("refund OR sorted"), vec![ids[3].clone()]);
    assert_eq!(s.index().num_docs(), 3);
    s.close(Duration::from_secs(30));
}

#[test]
fn a_restart_catches_up_with_what_changed_meanwhile() {
    let (dir, store, ids) = filled();
    let (s, _) = started(dir.path(), &store);
    // the catch-up indexes all five without being told
    eventually(&s, &q("order"), vec![ids[2].clone(), ids[0].clone()]);
    s.close(Duration::from_secs(30));
    drop(s);
    // changes the index never heard of: a deletion, an edit, a new mention
    store.remove_older_than(at(15)).expect("retention");
    let edited = post(3, "reddit", None, "Acme support found my parcel", 30);
    let new = post(6, "rss", None, "my order is late", 60);
    let ups = store
        .upsert_many(
            &[(edited, vec![brand("Acme")]), (new, vec![brand("Acme")])],
            at(400),
        )
        .expect("upsert");
    let (s, errors) = started(dir.path(), &store);
    let six = ups[1].id().to_string();
    eventually(&s, &q("order OR parcel"), vec![six.clone(), ids[2].clone()]);
    eventually(&s, &q("lost"), Vec::new());
    assert_eq!(s.index().num_docs(), 5);
    assert_eq!(errors.load(Ordering::SeqCst), 0);
    s.close(Duration::from_secs(30));
}

#[test]
fn a_damaged_or_missing_index_is_rebuilt() {
    let (dir, store, ids) = filled();
    assert_eq!(reindex(dir.path(), &store, |_| {}).expect("reindex"), 5);
    let idx = SearchIndex::open_existing(dir.path()).expect("open");
    assert_eq!(idx.num_docs(), 5);
    drop(idx);
    let meta = SearchIndex::dir(dir.path()).join("meta.json");
    std::fs::write(&meta, b"{ not json").expect("damage");
    assert!(SearchIndex::open_existing(dir.path()).is_err());
    let (s, _) = started(dir.path(), &store);
    eventually(&s, &q("order"), vec![ids[2].clone(), ids[0].clone()]);
    s.close(Duration::from_secs(30));
    drop(s);
    std::fs::remove_dir_all(SearchIndex::dir(dir.path())).expect("remove");
    assert!(matches!(
        SearchIndex::open_existing(dir.path()),
        Err(SearchError::Missing(_))
    ));
    let (s, _) = started(dir.path(), &store);
    eventually(&s, &q("order"), vec![ids[2].clone(), ids[0].clone()]);
    s.close(Duration::from_secs(30));
}

#[test]
fn pages_follow_the_cursor_and_relevance_ranks() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path()).expect("store");
    // 30 mentions, three per second (ties in the same millisecond)
    let pairs: Vec<(Post, Vec<BrandMatch>)> = (0..30)
        .map(|i| {
            let text = if i == 7 {
                "refund refund refund"
            } else {
                "a refund, eventually"
            };
            (
                post(i, "rss", None, text, i64::from(i / 3)),
                vec![brand("Acme")],
            )
        })
        .collect();
    let ups = store.upsert_many(&pairs, at(100)).expect("upsert");
    reindex(dir.path(), &store, |_| {}).expect("reindex");
    let index = SearchIndex::open_existing(dir.path()).expect("open");
    let mut query = SearchQuery {
        limit: 4,
        ..q("refund")
    };
    let mut seen = Vec::new();
    loop {
        let p = page(&store, &index, &query).expect("page");
        assert!(p.mentions.len() <= 4);
        seen.extend(p.mentions.into_iter().map(|m| m.id));
        match p.next {
            Some(a) => query.after = Some(a),
            None => break,
        }
    }
    let mut want: Vec<(i64, String)> = ups
        .iter()
        .zip(&pairs)
        .map(|(u, (p, _))| (p.created_at.timestamp_millis(), u.id().to_string()))
        .collect();
    want.sort();
    want.reverse();
    assert_eq!(seen, want.into_iter().map(|(_, id)| id).collect::<Vec<_>>());

    let best = index
        .hits(&SearchQuery {
            order: Order::Relevance,
            ..q("refund")
        })
        .expect("relevance");
    assert_eq!(best.first().map(|h| h.id.as_str()), Some(ups[7].id()));
    assert!(best.first().and_then(|h| h.score).is_some());
    // a page checks the store: a change the index has not heard of yet holds
    let neg = Sentiment {
        label: "negative".into(),
        scores: Vec::new(),
        model: "t@0".into(),
    };
    store.set_sentiment(ups[0].id(), &neg).expect("sentiment");
    let stale = SearchQuery {
        sentiment: Some("unclassified".into()),
        ..q("refund")
    };
    assert_eq!(index.hits(&stale).expect("hits").len(), 30);
    let p = page(&store, &index, &stale).expect("page");
    assert_eq!(p.mentions.len(), 29);
    assert!(p.mentions.iter().all(|m| m.id != ups[0].id()));
}
