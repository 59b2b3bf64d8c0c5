//! Unit tests of `triage`: the transitions, the history, the indexes kept in step
//! with the state, the feedback tree, and records stored before triage existed.

use chrono::{TimeZone, Utc};

use super::*;
use crate::post::{BrandMatch, Mention, Post, Sentiment};
use crate::store::mentions::Record;
use crate::store::MentionFilter;

fn t(action: Action, by: &str) -> Transition {
    Transition {
        action,
        by: by.into(),
        via: Via::Cli,
        note: None,
        corrected: None,
    }
}

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + s, 0).unwrap()
}

fn post(n: u32) -> Post {
    Post {
        id: format!("rss:{n}"),
        url: format!("https://example.com/{n}"),
        created_at: at(i64::from(n)),
        ..crate::matcher::tests::post("acme broke my order")
    }
}

fn acme() -> BrandMatch {
    BrandMatch {
        brand: "Acme".into(),
        query: "default".into(),
        terms: vec![],
    }
}

fn negative() -> Sentiment {
    Sentiment {
        label: "negative".into(),
        scores: vec![("negative".into(), 0.9), ("positive".into(), 0.1)],
        model: "test@0".into(),
    }
}

#[test]
fn the_states_move_as_documented_and_refuse_the_rest() {
    use Action::*;
    use Status::*;
    let mut s = Triage::default();
    s.apply("m", &t(Ack, "dana"), at(1)).unwrap();
    assert_eq!(
        (s.status, s.assignee.as_deref()),
        (Acknowledged, Some("dana"))
    );
    // the same person again: already so; someone else takes it over
    let e = s.apply("m", &t(Ack, "dana"), at(2)).unwrap_err();
    assert!(matches!(e, TriageError::Already { .. }), "{e}");
    assert!(e.to_string().contains("assigned to dana"), "{e}");
    s.apply("m", &t(Ack, "lee"), at(3)).unwrap();
    assert_eq!(s.assignee.as_deref(), Some("lee"));
    let mut r = t(Resolve, "lee");
    r.note = Some("replied on HN".into());
    s.apply("m", &r, at(4)).unwrap();
    assert_eq!(
        (s.status, s.note.as_deref()),
        (Resolved, Some("replied on HN"))
    );
    for a in [Ack, Dismiss(DismissReason::Spam)] {
        let e = s.apply("m", &t(a, "dana"), at(5)).unwrap_err();
        assert!(
            matches!(e, TriageError::Invalid { from: Resolved, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("reopen it first"), "{e}");
    }
    assert!(matches!(
        s.apply("m", &t(Resolve, "dana"), at(5)),
        Err(TriageError::Already { .. })
    ));
    s.apply("m", &t(Reopen, "dana"), at(6)).unwrap();
    assert_eq!(s.status, New);
    assert_eq!((s.assignee.clone(), s.note.clone()), (None, None));
    assert!(matches!(
        s.apply("m", &t(Reopen, "dana"), at(7)),
        Err(TriageError::Already { status: New, .. })
    ));
    s.apply("m", &t(Dismiss(DismissReason::NotRelevant), "dana"), at(8))
        .unwrap();
    assert_eq!(s.reason, Some(DismissReason::NotRelevant));
    let e = s.apply("m", &t(Resolve, "dana"), at(9)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot resolve mention m: it is dismissed; reopen it first"
    );
    // resolving straight from new assigns whoever resolved it
    let mut fresh = Triage::default();
    fresh.apply("m", &t(Resolve, "kim"), at(1)).unwrap();
    assert_eq!(fresh.assignee.as_deref(), Some("kim"));
}

#[test]
fn every_change_is_in_the_history_and_refusals_change_nothing() {
    let mut s = Triage::default();
    s.apply("m", &t(Action::Ack, "dana"), at(1)).unwrap();
    let mut d = t(Action::Dismiss(DismissReason::Duplicate), "lee");
    d.via = Via::Api;
    d.note = Some("same as the other".into());
    s.apply("m", &d, at(2)).unwrap();
    let before = s.clone();
    assert!(s.apply("m", &t(Action::Ack, "kim"), at(3)).is_err());
    assert_eq!(s, before);
    let h = &s.history;
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0].by.as_str(), h[0].from, h[0].to, h[0].via),
        ("dana", Status::New, Status::Acknowledged, Via::Cli)
    );
    assert_eq!(
        (h[1].from, h[1].to, h[1].reason, h[1].at),
        (
            Status::Acknowledged,
            Status::Dismissed,
            Some(DismissReason::Duplicate),
            at(2)
        )
    );
    assert_eq!(h[1].note.as_deref(), Some("same as the other"));
    // bounded: the newest are kept
    for i in 0..MAX_HISTORY as i64 {
        s.apply("m", &t(Action::Reopen, "x"), at(10 + 2 * i))
            .unwrap();
        s.apply("m", &t(Action::Ack, "x"), at(11 + 2 * i)).unwrap();
    }
    assert_eq!(s.history.len(), MAX_HISTORY);
    assert_eq!(s.history.last().map(|c| c.to), Some(Status::Acknowledged));
}

#[test]
fn bad_names_notes_and_labels_are_typed_errors() {
    let mut s = Triage::default();
    for by in ["", "  ", "a\u{7}b", &"x".repeat(MAX_NAME + 1)] {
        let e = s.apply("m", &t(Action::Ack, by), at(1)).unwrap_err();
        assert!(matches!(e, TriageError::Input(_)), "{by:?}: {e}");
    }
    let mut r = t(Action::Resolve, "dana");
    r.note = Some("y".repeat(MAX_NOTE + 1));
    assert!(matches!(
        s.apply("m", &r, at(1)),
        Err(TriageError::Input(_))
    ));
    r.note = Some("two\nlines".into());
    let mut c = t(Action::Resolve, "dana");
    c.corrected = Some("positive".into());
    assert!(matches!(
        s.apply("m", &c, at(1)),
        Err(TriageError::Input(_))
    ));
    s.apply("m", &r, at(1)).unwrap();
    assert_eq!(s.history.len(), 1);
}

#[test]
fn records_stored_before_triage_read_as_new_and_untouched_ones_stay_small() {
    let rec = Record {
        mention: Mention {
            post: post(1),
            brands: vec![acme()],
            sentiment: None,
            first_seen: at(1),
            updated_at: None,
        },
        aliases: vec!["p:rss:1".into()],
        alerted_at: None,
        triage: Triage::default(),
        answer: Default::default(),
    };
    let json = serde_json::to_value(&rec).unwrap();
    assert!(json.get("triage").is_none(), "{json}");
    let old: Record = serde_json::from_value(json).unwrap();
    assert_eq!(old.triage, Triage::default());
    let shown = serde_json::to_value(StoredMention::from_record("0123456789abcdef", old)).unwrap();
    assert_eq!(shown["status"], "new");
    assert_eq!(shown["history"], serde_json::json!([]));
    assert!(shown["assignee"].is_null());
    // and a StoredMention from an older daemon (no triage fields) reads as new
    let mut older = shown.clone();
    for k in ["status", "assignee", "note", "reason", "history"] {
        older.as_object_mut().unwrap().remove(k);
    }
    let m: StoredMention = serde_json::from_value(older).unwrap();
    assert_eq!(m.triage.status, Status::New);
}

fn store() -> (tempfile::TempDir, Store, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            s.upsert_mention(&post(n), &[acme()], at(100))
                .unwrap()
                .id()
                .to_string(),
        );
    }
    s.set_sentiment(&ids[0], &negative()).unwrap();
    (dir, s, ids)
}

fn ids_of(s: &Store, f: MentionFilter) -> Vec<String> {
    s.list_stored(&f)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

#[test]
fn the_status_index_follows_every_change_and_upserts_keep_the_state() {
    let (_dir, s, ids) = store();
    let by_status = |st| MentionFilter {
        status: Some(st),
        ..Default::default()
    };
    assert_eq!(ids_of(&s, by_status(Status::New)).len(), 4);
    let m = s.triage(&ids[0], &t(Action::Ack, "dana"), at(200)).unwrap();
    assert_eq!(m.triage.status, Status::Acknowledged);
    s.triage(&ids[1], &t(Action::Resolve, "lee"), at(201))
        .unwrap();
    assert_eq!(
        ids_of(&s, by_status(Status::Acknowledged)),
        vec![ids[0].clone()]
    );
    assert_eq!(
        ids_of(&s, by_status(Status::Resolved)),
        vec![ids[1].clone()]
    );
    assert_eq!(ids_of(&s, by_status(Status::New)).len(), 2);
    let dana = MentionFilter {
        assignee: Some("DANA".into()),
        ..Default::default()
    };
    assert_eq!(ids_of(&s, dana), vec![ids[0].clone()]);
    let open_negative = MentionFilter {
        status: Some(Status::Acknowledged),
        sentiment: Some("negative".into()),
        brand: Some("acme".into()),
        ..Default::default()
    };
    assert_eq!(s.count(&open_negative).unwrap(), 1);
    // an edit, a merge and a re-classification keep the state
    let mut edited = post(0);
    edited.text = "acme broke it again".into();
    s.upsert_mention(&edited, &[acme()], at(300)).unwrap();
    s.set_sentiment(&ids[0], &negative()).unwrap();
    let m = s.get_stored(&ids[0]).unwrap().unwrap();
    assert_eq!(
        (m.triage.status, m.triage.assignee.as_deref()),
        (Status::Acknowledged, Some("dana"))
    );
    assert!(s.check().unwrap().is_ok());
    // a refused change leaves everything as it was
    let e = s
        .triage(&ids[1], &t(Action::Ack, "kim"), at(400))
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Triage(TriageError::Invalid { .. })),
        "{e}"
    );
    let e = s.triage("0000000000000000", &t(Action::Ack, "kim"), at(400));
    assert!(matches!(
        e,
        Err(StoreError::Triage(TriageError::NoMention(_)))
    ));
    // retention takes mentions out of the status index too
    s.remove_older_than(at(2)).unwrap();
    assert_eq!(
        ids_of(&s, by_status(Status::Resolved)),
        Vec::<String>::new()
    );
    assert_eq!(
        ids_of(&s, by_status(Status::Acknowledged)),
        Vec::<String>::new()
    );
    assert!(s.check().unwrap().is_ok());
}

#[test]
fn not_negative_dismissals_are_feedback_that_outlives_the_mention() {
    let (_dir, s, ids) = store();
    let mut d = t(Action::Dismiss(DismissReason::NotNegative), "dana");
    d.corrected = Some("positive".into());
    s.triage(&ids[0], &d, at(200)).unwrap();
    s.triage(
        &ids[1],
        &t(Action::Dismiss(DismissReason::NotNegative), "lee"),
        at(201),
    )
    .unwrap();
    s.triage(
        &ids[2],
        &t(Action::Dismiss(DismissReason::Spam), "lee"),
        at(202),
    )
    .unwrap();
    let fb = s.feedback().unwrap();
    assert_eq!(fb.len(), 2);
    assert_eq!(fb[0].mention, ids[0]);
    assert_eq!(
        (
            fb[0].label.as_deref(),
            fb[0].probability,
            fb[0].corrected.as_str()
        ),
        (Some("negative"), Some(0.9), "positive")
    );
    assert_eq!(fb[0].brands, vec!["Acme".to_string()]);
    assert_eq!(
        (fb[1].label.clone(), fb[1].corrected.as_str()),
        (None, "not-negative")
    );
    // reopening withdraws the correction
    s.triage(&ids[1], &t(Action::Reopen, "lee"), at(203))
        .unwrap();
    assert_eq!(s.feedback().unwrap().len(), 1);
    s.remove_older_than(at(10)).unwrap();
    assert!(s.is_empty());
    assert_eq!(s.feedback().unwrap().len(), 1);
    assert!(s.check().unwrap().is_ok());
}

#[test]
fn a_schema_1_database_gets_its_status_index_on_open() {
    let (dir, s, _) = store();
    // back to what schema 1 had: no status index, stamp 1
    s.t.status.clear().unwrap();
    s.tree("meta")
        .unwrap()
        .insert("schema_version", "1")
        .unwrap();
    s.flush().unwrap();
    assert!(!s.check().unwrap().is_ok());
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert!(s.check().unwrap().is_ok(), "{:?}", s.check());
    let v = s
        .tree("meta")
        .unwrap()
        .get("schema_version")
        .unwrap()
        .unwrap();
    assert_eq!(&*v, crate::store::SCHEMA_VERSION.to_string().as_bytes());
    let new = MentionFilter {
        status: Some(Status::New),
        ..Default::default()
    };
    assert_eq!(s.count(&new).unwrap(), 4);
}
