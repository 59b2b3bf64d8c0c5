//! Escalation: an alerting mention still `new` after `escalate_after` gets one alert
//! to `escalate_to` (per brand too); taken, below-threshold, positive or early mentions
//! get none; queuing it again sends nothing more; the email says it is overdue.

mod alerts_support;

use alerts_support::{acme_alerter, mention, t};
use overhear::alerts::{Delivery, Renderer};
use overhear::store::{Status, Store, StoredMention, Triage};

fn stored(p_negative: f32) -> StoredMention {
    StoredMention {
        id: "0123456789abcdef".into(),
        mention: mention("1", p_negative),
        alerted_at: Some(t(2026, 11, 23, 12, 2)),
        triage: Triage::default(),
        answer: Default::default(),
    }
}

const TWO_HOURS: &str = "escalate_after = \"2h\"\nescalate_to = [\"lead@acme.test\"]\n";

#[test]
fn a_mention_still_new_after_escalate_after_escalates_once() {
    let a = acme_alerter(TWO_HOURS, &["support@acme.test"]);
    assert_eq!(a.escalation_window(), Some(chrono::Duration::hours(2)));
    let m = stored(0.95);
    assert!(a.escalation_items(&m, t(2026, 11, 23, 14, 1)).is_empty());
    // the inbox marks it overdue from the same moment
    assert!(!a.is_overdue(&m, t(2026, 11, 23, 14, 1)));
    assert!(a.is_overdue(&m, t(2026, 11, 23, 14, 2)));
    let items = a.escalation_items(&m, t(2026, 11, 23, 14, 2));
    assert_eq!(items.len(), 1, "{items:#?}");
    let i = &items[0];
    assert_eq!(i.to, "lead@acme.test");
    assert_eq!(i.delivery, Delivery::Direct);
    assert!(
        i.key.starts_with("escalate|0123456789abcdef@Acme|"),
        "{}",
        i.key
    );

    // queued twice (every scheduler tick): one outbox entry
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.enqueue(&items).unwrap();
    store
        .enqueue(&a.escalation_items(&m, t(2026, 11, 23, 15, 0)))
        .unwrap();
    let pending = store.pending().unwrap();
    assert_eq!(pending.len(), 1);

    // the email says it is overdue and why
    let r = Renderer::new().render(&pending).unwrap();
    assert!(
        r.subject.starts_with("[overhear] overdue: Acme:"),
        "{}",
        r.subject
    );
    assert!(
        r.text.contains("still new, nobody has taken it"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("still new 2h after its alert at 2026-11-23 12:02 UTC"),
        "{}",
        r.text
    );
}

#[test]
fn taken_unalerted_or_positive_mentions_do_not_escalate() {
    let a = acme_alerter(TWO_HOURS, &["support@acme.test"]);
    let late = t(2026, 11, 24, 12, 0);
    let mut taken = stored(0.95);
    taken.triage.status = Status::Acknowledged;
    taken.triage.assignee = Some("dana".into());
    assert!(a.escalation_items(&taken, late).is_empty());
    assert!(!a.is_overdue(&taken, late));
    // below the brand's threshold (0.8): it never alerted
    assert!(a.escalation_items(&stored(0.6), late).is_empty());
    assert!(!a.is_overdue(&stored(0.6), late));
    let mut positive = stored(0.95);
    if let Some(s) = positive.mention.sentiment.as_mut() {
        s.label = "positive".into();
    }
    assert!(a.escalation_items(&positive, late).is_empty());
    assert!(!a.is_overdue(&positive, late));
    // off by default, and without anyone to escalate to
    let off = acme_alerter("", &["support@acme.test"]);
    assert_eq!(off.escalation_window(), None);
    assert!(off.escalation_items(&stored(0.95), late).is_empty());
    let nobody = acme_alerter("escalate_after = \"2h\"\n", &["support@acme.test"]);
    assert_eq!(nobody.escalation_window(), None);
    assert!(nobody.escalation_items(&stored(0.95), late).is_empty());
    // nobody to escalate to: still overdue in the inbox
    assert!(nobody.is_overdue(&stored(0.95), late));
    assert!(!off.is_overdue(&stored(0.95), late));
}

#[test]
fn a_brand_sets_its_own_escalation() {
    let a = acme_alerter(
        &format!("{TWO_HOURS}\n[brand.Acme]\nescalate_after = \"30m\"\nescalate_to = [\"night@acme.test\", \"lead@acme.test\"]\n"),
        &["support@acme.test"],
    );
    assert_eq!(a.escalation_window(), Some(chrono::Duration::minutes(30)));
    let items = a.escalation_items(&stored(0.95), t(2026, 11, 23, 12, 40));
    let to: Vec<&str> = items.iter().map(|i| i.to.as_str()).collect();
    assert_eq!(to, ["night@acme.test", "lead@acme.test"]);
    // no alert time recorded: counted from when it was first seen (12:01)
    let mut m = stored(0.95);
    m.alerted_at = None;
    assert!(a.escalation_items(&m, t(2026, 11, 23, 12, 30)).is_empty());
    assert_eq!(a.escalation_items(&m, t(2026, 11, 23, 12, 31)).len(), 2);
}

#[test]
fn an_alert_nobody_answered_in_public_is_reminded_once_and_an_answered_one_is_not() {
    let a = acme_alerter("remind_unanswered = \"24h\"\n", &["support@acme.test"]);
    assert_eq!(a.remind_window(), Some(chrono::Duration::hours(24)));
    let m = stored(0.95); // alerted 2026-11-23 12:02, from Hacker News
    assert!(a.reminder_items(&m, t(2026, 11, 24, 12, 1)).is_empty());
    let items = a.reminder_items(&m, t(2026, 11, 24, 12, 2));
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(items[0].to, "support@acme.test");
    assert!(items[0].key.starts_with("remind|0123456789abcdef@Acme|"));
    // taken in the inbox but not answered in public: still reminded
    let mut taken = stored(0.95);
    taken.triage.status = Status::Acknowledged;
    assert_eq!(a.reminder_items(&taken, t(2026, 11, 25, 0, 0)).len(), 1);
    // answered, resolved, deleted, or from a source without threads: not
    let late = t(2026, 11, 26, 0, 0);
    let mut answered = stored(0.95);
    answered.answer.answered_at = Some(t(2026, 11, 23, 13, 0));
    assert!(a.reminder_items(&answered, late).is_empty());
    // ... and an answered one does not escalate either
    let esc = acme_alerter(TWO_HOURS, &["support@acme.test"]);
    assert!(!esc.is_overdue(&answered, late));
    assert!(esc.escalation_items(&answered, late).is_empty());
    let mut resolved = stored(0.95);
    resolved.triage.status = Status::Resolved;
    assert!(a.reminder_items(&resolved, late).is_empty());
    let mut gone = stored(0.95);
    gone.answer.thread_gone_at = Some(t(2026, 11, 23, 13, 0));
    assert!(a.reminder_items(&gone, late).is_empty());
    let mut rss = stored(0.95);
    rss.mention.post.source = "rss".into();
    assert!(a.reminder_items(&rss, late).is_empty());

    // queued twice: one outbox entry, rendered as a reminder
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.enqueue(&items).unwrap();
    store.enqueue(&a.reminder_items(&m, late)).unwrap();
    let pending = store.pending().unwrap();
    assert_eq!(pending.len(), 1);
    let r = Renderer::new().render(&pending).unwrap();
    assert!(
        r.subject.starts_with("[overhear] unanswered: Acme:"),
        "{}",
        r.subject
    );
    assert!(
        r.text
            .contains("not answered in public 1d after its alert at 2026-11-23 12:02 UTC"),
        "{}",
        r.text
    );
}

#[test]
fn a_draft_reply_is_told_to_the_brands_recipients_once_as_waiting_for_approval() {
    let a = acme_alerter("", &["support@acme.test", "lead@acme.test"]);
    let m = stored(0.95);
    let draft = overhear::alerts::Draft {
        id: "feedfacefeedface",
        account: "acme-social",
        author: "dana",
        text: "Sorry about this <b>Jo</b>",
    };
    let now = t(2026, 11, 23, 13, 0);
    let items = a.approval_items(&m, &draft, now);
    assert_eq!(
        items.iter().map(|i| i.to.as_str()).collect::<Vec<_>>(),
        ["support@acme.test", "lead@acme.test"]
    );
    assert!(items[0].key.starts_with("approve|feedfacefeedface@Acme|"));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.enqueue(&items).unwrap();
    store.enqueue(&a.approval_items(&m, &draft, now)).unwrap();
    let pending = store.pending().unwrap();
    assert_eq!(pending.len(), 2, "once per recipient");
    let r = Renderer::new().render(&pending[..1]).unwrap();
    assert!(
        r.subject
            .starts_with("[overhear] reply waiting for approval: Acme:"),
        "{}",
        r.subject
    );
    assert!(
        r.text
            .contains("a reply as acme-social by dana waits for another user's approval"),
        "{}",
        r.text
    );
    assert!(!r.html.contains("<b>Jo</b>"), "escaped in HTML");
}
