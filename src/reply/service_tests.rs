//! Unit tests of the reply service and sender against a scripted network: the
//! states a reply goes through, approval, retries and failures, and the mention
//! answered once. The real networks' clients are tested in their own files and
//! end to end in `tests/reply_*.rs`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::Utc;

use super::network::{Limit, NetFuture, Network, Outgoing, PostError, Posted};
use super::send::Outcome;
use super::*;
use crate::post::BrandMatch;
use crate::store::replies::ReplyState;
use crate::store::{Store, Upsert, Via};

/// A network that answers from a script and records every attempt's (key, attempt).
struct Scripted {
    answers: Mutex<VecDeque<Result<Posted, PostError>>>,
    seen: Arc<Mutex<Vec<(String, u32, String)>>>,
}

impl Network for Scripted {
    fn kind(&self) -> &'static str {
        "mastodon"
    }
    fn fits(&self, post: &crate::post::Post) -> Result<(), String> {
        if post.source == "mastodon" {
            Ok(())
        } else {
            Err(format!(
                "a Mastodon account cannot answer a {} post",
                post.source
            ))
        }
    }
    fn limit(&self) -> Limit {
        Limit {
            unit: "characters",
            max: 500,
            min: 1,
        }
    }
    fn post<'a>(&'a self, out: Outgoing<'a>) -> NetFuture<'a, Posted> {
        self.seen
            .lock()
            .unwrap()
            .push((out.key.to_string(), out.attempt, out.text.to_string()));
        let next = self.answers.lock().unwrap().pop_front();
        Box::pin(async move {
            next.unwrap_or(Err(PostError::Refused {
                status: None,
                why: "script ran out".into(),
            }))
        })
    }
    fn verify(&self) -> NetFuture<'_, String> {
        Box::pin(async { Ok("mastodon:acme@acme.social".to_string()) })
    }
}

fn posted() -> Posted {
    Posted {
        url: "https://acme.social/@acme/1".into(),
        remote_id: "1".into(),
        at: Utc::now(),
        by: "mastodon:acme@acme.social".into(),
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    replies: Replies,
    seen: Arc<Mutex<Vec<(String, u32, String)>>>,
    mention: String,
    other: String,
}

fn rig(extra: &str, answers: Vec<Result<Posted, PostError>>) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let text = format!(
        "[[reply_account]]\nname = \"acme-social\"\nkind = \"mastodon\"\ninstance = \"https://acme.social\"\ntoken_env = \"X\"\n\n\
         [[reply_template]]\nname = \"sorry\"\ntext = \"Hi {{author}}, sorry! {{brand}} support\"\n\n\
         [[brand]]\nname = \"Acme\"\nquery = \"acme\"\nreply_as = [\"acme-social\"]\n{extra}"
    );
    let config: crate::config::Config = toml::from_str(&text).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let net: Arc<dyn Network> = Arc::new(Scripted {
        answers: Mutex::new(answers.into()),
        seen: seen.clone(),
    });
    let replies = Replies::new(&config, store.clone(), &move |_| Ok(net.clone()));
    let acme = BrandMatch {
        brand: "Acme".into(),
        query: "default".into(),
        terms: vec![],
    };
    let mut toot = crate::matcher::tests::post("acme lost my parcel");
    toot.id = "mastodon:mastodon.social:1".into();
    toot.source = "mastodon".into();
    toot.author = Some("jo@mastodon.social".into());
    let mut hn = crate::matcher::tests::post("acme is down");
    hn.id = "hackernews:2".into();
    hn.source = "hackernews".into();
    let id = |u: Upsert| match u {
        Upsert::New { id } | Upsert::Updated { id, .. } | Upsert::Unchanged { id } => id,
    };
    let mention = id(store
        .upsert_mention(&toot, std::slice::from_ref(&acme), Utc::now())
        .unwrap());
    let other = id(store.upsert_mention(&hn, &[acme], Utc::now()).unwrap());
    Rig {
        _dir: dir,
        store,
        replies,
        seen,
        mention,
        other,
    }
}

fn write(
    r: &Rig,
    mention: &str,
    text: Option<&str>,
    template: Option<&str>,
) -> Result<crate::store::replies::ReplyRecord, ReplyError> {
    r.replies.write(
        Write {
            mention_id: mention.into(),
            account: "acme-social".into(),
            text: text.map(String::from),
            template: template.map(String::from),
            author: "dana".into(),
            via: Via::Web,
        },
        Utc::now(),
    )
}

#[tokio::test]
async fn a_reply_is_posted_once_and_answers_the_mention() {
    let r = rig("", vec![Ok(posted())]);
    let rec = write(&r, &r.mention, None, Some("sorry")).unwrap();
    assert_eq!(rec.state, ReplyState::Queued);
    assert_eq!(rec.text, "Hi jo@mastodon.social, sorry! Acme support");
    let done = r.replies.send_due(Utc::now()).await;
    assert!(
        matches!(done.as_slice(), [(_, Outcome::Posted(_))]),
        "{done:?}"
    );
    assert!(
        r.replies.send_due(Utc::now()).await.is_empty(),
        "nothing twice"
    );
    assert_eq!(r.seen.lock().unwrap().len(), 1);
    let m = r.store.get_stored(&r.mention).unwrap().unwrap();
    assert_eq!(
        m.answer.answered_by.as_deref(),
        Some("mastodon:acme@acme.social")
    );
    assert_eq!(
        m.answer.answer_url.as_deref(),
        Some("https://acme.social/@acme/1")
    );
    let h = m.triage.history.last().unwrap();
    assert_eq!((h.by.as_str(), h.via), ("dana", Via::Web));
    assert!(h
        .note
        .as_deref()
        .unwrap_or("")
        .contains("replied as acme-social"));
    let stored = r.store.reply(&rec.id).unwrap().unwrap();
    assert_eq!(stored.state, ReplyState::Posted);
    assert_eq!(stored.attempts, 1);
}

#[tokio::test]
async fn retries_keep_the_key_and_refusals_fail_visibly() {
    let r = rig(
        "",
        vec![
            Err(PostError::Retry {
                why: "503".into(),
                after: None,
            }),
            Ok(posted()),
        ],
    );
    let rec = write(&r, &r.mention, Some("Sorry about this"), None).unwrap();
    let first = r.replies.send_due(Utc::now()).await;
    let Some((_, Outcome::Later(at))) = first.first() else {
        panic!("{first:?}")
    };
    assert!(
        r.replies.send_due(Utc::now()).await.is_empty(),
        "not before its time"
    );
    r.replies.send_due(*at).await;
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter()
            .map(|(k, a, _)| (k.as_str(), *a))
            .collect::<Vec<_>>(),
        [(rec.id.as_str(), 1), (rec.id.as_str(), 2)]
    );

    let r = rig(
        "",
        vec![Err(PostError::Refused {
            status: Some(401),
            why: "The access token is invalid".into(),
        })],
    );
    let rec = write(&r, &r.mention, Some("Sorry about this"), None).unwrap();
    r.replies.send_due(Utc::now()).await;
    let failed = r.store.reply(&rec.id).unwrap().unwrap();
    assert_eq!(failed.state, ReplyState::Failed);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("mastodon answered 401: The access token is invalid")
    );
    let m = r.store.get_stored(&r.mention).unwrap().unwrap();
    assert!(m.answer.answered_at.is_none());
    // retried by a user, then dropped after failing again
    r.replies.retry(&rec.id, "dana").unwrap();
    r.replies.send_due(Utc::now()).await;
    let dropped = r.replies.drop_reply(&rec.id, "dana").unwrap();
    assert_eq!(dropped.state, ReplyState::Dropped);
    assert!(r.replies.retry(&rec.id, "dana").is_err());
}

#[tokio::test]
async fn a_reply_left_sending_by_a_stop_goes_again_with_the_same_key() {
    let r = rig("", vec![Ok(posted())]);
    let rec = write(&r, &r.mention, Some("Sorry about this"), None).unwrap();
    // as if the process stopped after marking the attempt
    r.store
        .reply_update(&rec.id, |x| {
            x.state = ReplyState::Sending;
            x.attempts = 1;
            Ok(())
        })
        .unwrap();
    r.replies.send_due(Utc::now()).await;
    assert_eq!(
        r.seen.lock().unwrap().clone(),
        [(rec.id.clone(), 2, "Sorry about this".to_string())]
    );
}

#[tokio::test]
async fn drafts_wait_for_another_user() {
    let r = rig("[reply]\nrequire_approval = true\n", vec![Ok(posted())]);
    let rec = write(&r, &r.mention, Some("Sorry about this"), None).unwrap();
    assert_eq!(rec.state, ReplyState::Draft);
    assert!(r.replies.send_due(Utc::now()).await.is_empty());
    let e = r.replies.approve(&rec.id, "Dana", None).unwrap_err();
    assert!(e.to_string().contains("another user approves it"), "{e}");
    let ok = r
        .replies
        .approve(&rec.id, "lee", Some("Sorry about this, Jo".into()))
        .unwrap();
    assert_eq!(
        (ok.state, ok.approved_by.as_deref()),
        (ReplyState::Queued, Some("lee"))
    );
    r.replies.send_due(Utc::now()).await;
    assert_eq!(r.seen.lock().unwrap()[0].2, "Sorry about this, Jo");
}

#[tokio::test]
async fn replies_the_account_cannot_make_are_refused_with_a_reason() {
    let r = rig("", vec![]);
    let e = write(&r, &r.other, Some("Sorry about this"), None).unwrap_err();
    assert!(
        e.to_string()
            .contains("a Mastodon account cannot answer a hackernews post"),
        "{e}"
    );
    let long = "x".repeat(501);
    let e = write(&r, &r.mention, Some(&long), None).unwrap_err();
    assert!(e.to_string().contains("at most 500"), "{e}");
    let e = write(&r, &r.mention, None, Some("nope")).unwrap_err();
    assert!(
        e.to_string().contains("no [[reply_template]] is named"),
        "{e}"
    );
    let e = r
        .replies
        .write(
            Write {
                mention_id: r.mention.clone(),
                account: "acme-bsky".into(),
                text: Some("hi".into()),
                template: None,
                author: "dana".into(),
                via: Via::Cli,
            },
            Utc::now(),
        )
        .unwrap_err();
    assert!(matches!(e, ReplyError::NoAccount(_)), "{e}");
    assert!(r.store.replies().unwrap().is_empty(), "nothing stored");
}
