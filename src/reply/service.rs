//! [`Replies`]: what the inbox, the CLI and the API ask of replies. Which accounts may
//! answer a mention, writing a reply (checked, stored, flushed, then sent), approving
//! a draft, retrying or dropping a failure. The sending itself is `send.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Notify;

use super::config::{ReplyAccountConfig, ReplyTemplate};
use super::network::{Limit, Network, PostError};
use super::text;
use crate::store::replies::{new_reply_id, ReplyRecord, ReplyState};
use crate::store::{Store, StoreError, StoredMention, Via};

/// Why a reply could not be written, approved, retried or dropped.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("no mention {0}")]
    NoMention(String),
    #[error("no reply {0}")]
    NoReply(String),
    #[error("no [[reply_account]] is named {0:?}")]
    NoAccount(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One configured account and its client (or why it has none).
struct Account {
    cfg: ReplyAccountConfig,
    net: Result<Arc<dyn Network>, String>,
}

/// An account as the inbox offers it for one mention.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    pub name: String,
    pub kind: &'static str,
    pub limit: Option<Limit>,
    /// Why it cannot answer this mention (its source does not fit, no client).
    pub unfit: Option<String>,
}

/// What writing a reply takes.
#[derive(Debug, Clone)]
pub struct Write {
    pub mention_id: String,
    pub account: String,
    /// The text, or `template`'s.
    pub text: Option<String>,
    pub template: Option<String>,
    /// Who writes it.
    pub author: String,
    pub via: Via,
}

/// Builds a client for one account (the real ones: [`super::client`]).
pub type MakeClient =
    dyn Fn(&ReplyAccountConfig) -> Result<Arc<dyn Network>, PostError> + Send + Sync;

/// The replies of one configuration.
pub struct Replies {
    pub(super) store: Store,
    accounts: BTreeMap<String, Account>,
    templates: Vec<ReplyTemplate>,
    /// Per brand (lowercase): the accounts that may answer it, and
    /// `resolve_when_answered`.
    brands: BTreeMap<String, (Vec<String>, bool)>,
    require_approval: bool,
    pub(super) wake: Arc<Notify>,
    /// Told of each draft (notices to the approvers).
    pub(super) notify: Arc<std::sync::RwLock<Option<Arc<super::desk::Notifier>>>>,
}

impl Replies {
    /// The replies of `config`, each account's client made by `make` (an account
    /// whose client cannot be made is kept, and says why when used).
    pub fn new(config: &crate::config::Config, store: Store, make: &MakeClient) -> Replies {
        let accounts = config
            .reply_accounts
            .iter()
            .map(|a| {
                let net = make(a).map_err(|e| e.to_string());
                if let Err(e) = &net {
                    tracing::warn!(account = %a.name(), error = %e, "reply account cannot post");
                }
                (
                    a.name().to_lowercase(),
                    Account {
                        cfg: a.clone(),
                        net,
                    },
                )
            })
            .collect();
        let brands = config
            .brands
            .iter()
            .map(|b| {
                (
                    b.name.to_lowercase(),
                    (
                        b.reply_as.iter().map(|n| n.to_lowercase()).collect(),
                        b.resolve_when_answered,
                    ),
                )
            })
            .collect();
        Replies {
            store,
            accounts,
            templates: config.reply_templates.clone(),
            brands,
            require_approval: config.reply.require_approval,
            wake: Arc::new(Notify::new()),
            notify: Default::default(),
        }
    }

    /// The store the replies are kept in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn require_approval(&self) -> bool {
        self.require_approval
    }

    pub fn templates(&self) -> &[ReplyTemplate] {
        &self.templates
    }

    pub(super) fn client(&self, account: &str) -> Result<Arc<dyn Network>, String> {
        match self.accounts.get(&account.to_lowercase()) {
            None => Err(format!(
                "no [[reply_account]] is named {account:?} any more"
            )),
            Some(a) => a.net.clone(),
        }
    }

    /// Whether any brand of `m` resolves on an answer.
    pub(super) fn resolves(&self, m: &StoredMention) -> bool {
        m.mention.brands.iter().any(|b| {
            self.brands
                .get(&b.brand.to_lowercase())
                .is_some_and(|(_, r)| *r)
        })
    }

    /// The accounts the brands of `m` may answer it as (`reply_as`), each with
    /// whether it fits the mention's source.
    pub fn offers(&self, m: &StoredMention) -> Vec<Offer> {
        let mut names: Vec<&String> = Vec::new();
        for b in &m.mention.brands {
            if let Some((list, _)) = self.brands.get(&b.brand.to_lowercase()) {
                for n in list {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
        }
        names
            .into_iter()
            .filter_map(|n| self.accounts.get(n))
            .map(|a| Offer {
                name: a.cfg.name().to_string(),
                kind: a.cfg.kind(),
                limit: a.net.as_ref().ok().map(|n| n.limit()),
                unfit: match &a.net {
                    Err(e) => Some(e.clone()),
                    Ok(n) => n.fits(&m.mention.post).err(),
                },
            })
            .collect()
    }

    /// Checks and stores a reply to the mention: a draft with `require_approval`,
    /// else queued and the sender woken. Durable on return.
    pub fn write(&self, w: Write, now: DateTime<Utc>) -> Result<ReplyRecord, ReplyError> {
        let m = self
            .store
            .get_stored(&w.mention_id)?
            .ok_or_else(|| ReplyError::NoMention(w.mention_id.clone()))?;
        let offer = self
            .offers(&m)
            .into_iter()
            .find(|o| o.name.eq_ignore_ascii_case(&w.account));
        let Some(offer) = offer else {
            if !self.accounts.contains_key(&w.account.to_lowercase()) {
                return Err(ReplyError::NoAccount(w.account));
            }
            return Err(ReplyError::Refused(format!(
                "{} may not answer this mention: it is not in the reply_as of {}",
                w.account,
                brand_names(&m)
            )));
        };
        if let Some(why) = offer.unfit {
            return Err(ReplyError::Refused(format!(
                "{} cannot answer this mention: {why}",
                offer.name
            )));
        }
        let text = match (&w.text, &w.template) {
            (Some(t), None) => t.clone(),
            (None, Some(name)) => {
                let t = self
                    .templates
                    .iter()
                    .find(|t| t.name.eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        ReplyError::Refused(format!("no [[reply_template]] is named {name:?}"))
                    })?;
                text::fill(&t.text, &m)
            }
            (Some(_), Some(_)) => {
                return Err(ReplyError::Refused(
                    "give the text or a template, not both".into(),
                ))
            }
            (None, None) => return Err(ReplyError::Refused("the reply has no text".into())),
        };
        if let Some(limit) = offer.limit {
            text::check(&text, limit).map_err(ReplyError::Refused)?;
        }
        let draft = self.require_approval;
        let rec = ReplyRecord {
            id: new_reply_id(),
            mention_id: m.id.clone(),
            account: offer.name,
            text,
            author: w.author,
            via: w.via,
            created_at: now,
            state: if draft {
                ReplyState::Draft
            } else {
                ReplyState::Queued
            },
            attempts: 0,
            next_try: now,
            last_error: None,
            approved_by: None,
            dropped_by: None,
            url: None,
            remote_id: None,
            posted_at: None,
            posted_by: None,
        };
        self.store.reply_insert(&rec)?;
        tracing::info!(reply = %rec.id, mention = %rec.mention_id, account = %rec.account, by = %rec.author, state = rec.state.as_str(), "reply written");
        if draft {
            let f = self.notify.read().ok().and_then(|n| n.clone());
            if let Some(f) = f {
                f(&m, &rec);
            }
        } else {
            self.wake.notify_one();
        }
        Ok(rec)
    }

    /// Approves draft `id` (with its text replaced by `text` when given): queued and
    /// the sender woken. Its author cannot approve it.
    pub fn approve(
        &self,
        id: &str,
        by: &str,
        text: Option<String>,
    ) -> Result<ReplyRecord, ReplyError> {
        let current = self
            .store
            .reply(id)?
            .ok_or_else(|| ReplyError::NoReply(id.to_string()))?;
        if let Some(t) = &text {
            let limit = self.client(&current.account).ok().map(|n| n.limit());
            if let Some(limit) = limit {
                text::check(t, limit).map_err(ReplyError::Refused)?;
            }
        }
        let r = self
            .store
            .reply_update(id, |r| {
                if r.state != ReplyState::Draft {
                    return Err(format!("reply {id} is {}, not a draft", r.state.as_str()));
                }
                if r.author.eq_ignore_ascii_case(by) {
                    return Err(format!("{by} wrote this reply: another user approves it"));
                }
                if let Some(t) = &text {
                    r.text = t.clone();
                }
                r.state = ReplyState::Queued;
                r.approved_by = Some(by.to_string());
                r.next_try = Utc::now();
                Ok(())
            })
            .map_err(refused)?
            .ok_or_else(|| ReplyError::NoReply(id.to_string()))?;
        self.wake.notify_one();
        Ok(r)
    }

    /// Queues failed reply `id` again.
    pub fn retry(&self, id: &str, by: &str) -> Result<ReplyRecord, ReplyError> {
        let r = self
            .store
            .reply_update(id, |r| {
                if r.state != ReplyState::Failed {
                    return Err(format!("reply {id} is {}, not failed", r.state.as_str()));
                }
                r.state = ReplyState::Queued;
                r.next_try = Utc::now();
                tracing::info!(reply = %id, by, "reply retried");
                Ok(())
            })
            .map_err(refused)?
            .ok_or_else(|| ReplyError::NoReply(id.to_string()))?;
        self.wake.notify_one();
        Ok(r)
    }

    /// Drops reply `id` (a draft or a failure): it will never be sent.
    pub fn drop_reply(&self, id: &str, by: &str) -> Result<ReplyRecord, ReplyError> {
        self.store
            .reply_update(id, |r| {
                if !matches!(r.state, ReplyState::Draft | ReplyState::Failed) {
                    return Err(format!(
                        "reply {id} is {}: only a draft or a failed reply can be dropped",
                        r.state.as_str()
                    ));
                }
                r.state = ReplyState::Dropped;
                r.dropped_by = Some(by.to_string());
                Ok(())
            })
            .map_err(refused)?
            .ok_or_else(|| ReplyError::NoReply(id.to_string()))
    }
}

fn refused(e: StoreError) -> ReplyError {
    match e {
        StoreError::Invalid(why) => ReplyError::Refused(why),
        e => ReplyError::Store(e),
    }
}

fn brand_names(m: &StoredMention) -> String {
    let names: Vec<&str> = m.mention.brands.iter().map(|b| b.brand.as_str()).collect();
    names.join(", ")
}
