//! The watch itself: which alerted mentions get a watch ([`Plan::start`]), and one
//! round of checks ([`round`]): every thread that is due, at most `per_host` per
//! host, through the sources' own HTTP client (one request at a time per host, the
//! same caps and timeouts) with each post's `[[source]]` entry's credentials, user
//! agent and settings ([`super::access`]), then the outcome stored: answered (the mention records
//! who, when and where, and is resolved with `resolve_when_answered`), gone (the
//! post was deleted: the watch stops), or unanswered (next check on the brand's
//! schedule, until `watch_for` is over).
//!
//! Nothing here sleeps or spawns: the daemon calls [`round`] on a timer.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::access::Access;
use super::config::{brand_watches, BrandWatch, WatchConfigError};
use super::threads::{self, first_answer, Account, Bases, Target, Thread};
use crate::post::Mention;
use crate::sources::{Http, SourceConfig, SourceError};
use crate::store::watches::WatchState;
use crate::store::{Store, StoreError};

/// What the watch follows: each brand's settings and where each kind's threads are.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub brands: Vec<BrandWatch>,
    pub bases: Bases,
    /// The only hosts (`host:port`) the watch fetches: those whose threads a
    /// configured source's posts are on. A stored post id names its own host
    /// (`mastodon:HOST:ID`), and in a cluster a forged result can store any id.
    pub hosts: BTreeSet<String>,
    /// What each entry's thread requests carry (its key, token, user agent).
    pub access: Access,
}

/// Why the watch settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Brand(#[from] WatchConfigError),
    #[error("thread URLs: {0}")]
    Bases(#[from] threads::ThreadError),
}

impl Plan {
    pub fn from_config(
        brands: &[crate::matcher::BrandConfig],
        sources: &[SourceConfig],
    ) -> Result<Plan, PlanError> {
        let bases = Bases::from_sources(sources)?;
        // each entry's threads are at its own base, else its kind's
        let base_of = |s: &SourceConfig| -> Option<&url::Url> {
            let kind = match s {
                SourceConfig::Hackernews(_) => &bases.hackernews,
                SourceConfig::Reddit(_) => &bases.reddit,
                SourceConfig::Bluesky(_) => &bases.bluesky,
                SourceConfig::Lobsters(_) => &bases.lobsters,
                SourceConfig::Stackexchange(_) => &bases.stackexchange,
                SourceConfig::Github(_) => &bases.github,
                SourceConfig::Devto(_) => &bases.devto,
                SourceConfig::Mastodon(_)
                | SourceConfig::Rss(_)
                | SourceConfig::Discourse(_)
                | SourceConfig::Lemmy(_)
                | SourceConfig::Appstore(_) => return bases.sources.get(&s.name()),
            };
            Some(bases.sources.get(&s.name()).unwrap_or(kind))
        };
        let access = Access::from_sources(
            sources
                .iter()
                .filter_map(|s| Some((s, base_of(s)?.clone()))),
        );
        let mut hosts: BTreeSet<String> =
            sources.iter().filter_map(base_of).map(host_port).collect();
        hosts.extend(access.other_hosts());
        Ok(Plan {
            brands: brand_watches(brands)?,
            bases,
            hosts,
            access,
        })
    }

    /// Whether the watch may fetch `url`: its host is one of [`Plan::hosts`].
    pub fn fetches(&self, url: &url::Url) -> bool {
        self.hosts.contains(&host_port(url))
    }

    /// The watching brands of `m`.
    fn watching(&self, m: &Mention) -> Vec<&BrandWatch> {
        self.brands
            .iter()
            .filter(|w| {
                m.brands
                    .iter()
                    .any(|b| b.brand.eq_ignore_ascii_case(&w.brand))
            })
            .collect()
    }

    /// The watch to start for `m`, which alerted at `now`: `None` when its source has
    /// no threads or none of its brands lists accounts.
    pub fn start(&self, m: &Mention, now: DateTime<Utc>) -> Option<WatchState> {
        let brands = self.watching(m);
        let first = brands.iter().map(|w| w.delay(0)).min()?;
        let watch_for = brands.iter().map(|w| w.watch_for).max()?;
        if !matches!(threads::target(&m.post, &self.bases), Ok(Target::Fetch(_))) {
            return None;
        }
        Some(WatchState {
            next_at: later(now, first),
            attempts: 0,
            until: later(m.first_seen.max(now), watch_for),
            thread_id: None,
        })
    }

    /// How often the daemon should run a round: half the shortest first delay,
    /// between 1 s and 30 s.
    pub fn tick(&self) -> Duration {
        self.brands
            .iter()
            .map(|w| w.delay(0) / 2)
            .min()
            .unwrap_or(Duration::from_secs(30))
            .clamp(Duration::from_secs(1), Duration::from_secs(30))
    }
}

/// `host:port` of a URL (the port its scheme implies when it names none).
pub fn host_port(url: &url::Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

fn later(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The brand answered: stored, the watch ends.
    Answered,
    /// No answer yet: checked again later.
    Unanswered,
    /// The post was deleted: marked so, the watch ends.
    Gone,
    /// `watch_for` is over without an answer, or nothing can be watched any more
    /// (the mention is gone, its brand lists no accounts): the watch ends.
    Ended,
    /// The request or the response failed: checked again later.
    Failed(String),
}

impl Outcome {
    /// The `outcome` label of `overhear_watch_checks_total`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Unanswered => "unanswered",
            Outcome::Gone => "gone",
            Outcome::Ended => "ended",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// One check: the mention, its source kind and what was found.
#[derive(Debug, Clone)]
pub struct Checked {
    pub id: String,
    pub kind: String,
    pub outcome: Outcome,
}

/// Checks every due thread (at most `per_host` per host; the rest wait for the next
/// round) and stores what each check found. Store errors end the round.
pub async fn round(
    store: &Store,
    http: &Http,
    plan: &Plan,
    now: DateTime<Utc>,
    per_host: usize,
) -> Result<Vec<Checked>, StoreError> {
    let mut due: Vec<(String, WatchState)> = store
        .watches()?
        .into_iter()
        .filter(|(_, st)| st.next_at <= now)
        .collect();
    due.sort_by_key(|(_, st)| st.next_at);
    let mut per: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (id, mut st) in due {
        let Some(m) = store.get_stored(&id)? else {
            store.watch_stop(&id)?;
            continue;
        };
        let kind = m.mention.post.source.clone();
        let brands = plan.watching(&m.mention);
        let mut post = m.mention.post.clone();
        if st.thread_id.is_some() {
            post.thread_id = st.thread_id.clone();
        }
        let req = match threads::target(&post, &plan.bases) {
            Ok(Target::Fetch(u)) if !brands.is_empty() && now < st.until => {
                plan.access.request(&post, u)
            }
            _ => {
                store.watch_stop(&id)?;
                out.push(Checked {
                    id,
                    kind,
                    outcome: Outcome::Ended,
                });
                continue;
            }
        };
        if !plan.fetches(&req.url) {
            tracing::debug!(mention = %id, source = %kind, host = %host_port(&req.url), "not watching a thread on a host no configured source polls");
            continue;
        }
        let n = per.entry(host_port(&req.url)).or_insert(0);
        if *n >= per_host {
            continue;
        }
        *n += 1;
        let accounts: Vec<Account> = brands.iter().flat_map(|w| w.accounts.clone()).collect();
        let resolve = brands.iter().any(|w| w.resolve_when_answered);
        let delay = brands
            .iter()
            .map(|w| w.delay(st.attempts.saturating_add(1)))
            .min()
            .unwrap_or(super::config::DEFAULT_SCHEDULE[0]);
        st.attempts = st.attempts.saturating_add(1);
        let (outcome, wait) = match req.fetch(http).await {
            Err(e) => {
                let wait = match &e {
                    SourceError::RateLimited { retry_after }
                    | SourceError::Server { retry_after, .. } => *retry_after,
                    _ => None,
                };
                (Outcome::Failed(e.to_string()), wait)
            }
            Ok(got) => {
                let wait = threads::server_wait(&post, &got.body).max(got.wait);
                let outcome = match threads::parse(&post, got.status, &got.body) {
                    Err(e) => Outcome::Failed(e.to_string()),
                    Ok(Thread::Gone) => {
                        store.set_thread_gone(&id, now)?;
                        Outcome::Gone
                    }
                    Ok(Thread::Located { thread_id }) => {
                        // the story is known now: its thread is read at once next round
                        st.thread_id = Some(thread_id);
                        st.next_at = now;
                        store.watch_set(&id, &st)?;
                        continue;
                    }
                    Ok(Thread::Replies(replies)) => {
                        match first_answer(&post, &replies, &accounts) {
                            Some(r) => {
                                let by = format!("{kind}:{}", r.author);
                                store.set_answered(&id, &by, r.at, &r.url, resolve, now)?;
                                Outcome::Answered
                            }
                            None => Outcome::Unanswered,
                        }
                    }
                };
                (outcome, wait)
            }
        };
        match &outcome {
            Outcome::Answered | Outcome::Gone => store.watch_stop(&id)?,
            Outcome::Unanswered | Outcome::Failed(_) => {
                let next = later(now, delay.max(wait.unwrap_or_default()));
                if next > st.until && outcome == Outcome::Unanswered {
                    store.watch_stop(&id)?;
                    out.push(Checked {
                        id,
                        kind,
                        outcome: Outcome::Ended,
                    });
                    continue;
                }
                st.next_at = next.min(st.until);
                store.watch_set(&id, &st)?;
            }
            Outcome::Ended => {}
        }
        if let Outcome::Failed(e) = &outcome {
            tracing::warn!(mention = %id, source = %kind, error = %e, "cannot read the thread; checked again later");
        }
        out.push(Checked { id, kind, outcome });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(text: &str) -> Vec<SourceConfig> {
        #[derive(serde::Deserialize)]
        struct F {
            source: Vec<SourceConfig>,
        }
        toml::from_str::<F>(text).unwrap().source
    }

    #[test]
    fn the_watch_fetches_only_hosts_a_configured_source_polls() {
        let s = sources(
            "[[source]]\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\n\n[[source]]\nkind = \"hackernews\"\n\n[[source]]\nkind = \"rss\"\nurl = \"https://feed.test/x\"\n",
        );
        let plan = Plan::from_config(&[], &s).unwrap();
        let ok = |u: &str| plan.fetches(&url::Url::parse(u).unwrap());
        assert!(ok("https://mastodon.social/api/v1/statuses/1/context"));
        assert!(ok("https://hn.algolia.com/api/v1/items/1"));
        // a host a forged post id names, and kinds nobody configured
        assert!(!ok("https://10.0.0.5:8443/x/api/v1/statuses/1/context"));
        assert!(!ok(
            "https://mastodon.social:8443/api/v1/statuses/1/context"
        ));
        assert!(!ok("https://www.reddit.com/comments/x.json"));
        assert!(!ok("https://feed.test/x"), "rss has no threads");
        // what a forged mastodon:HOST:ID resolves to is not fetched
        let mut post: crate::post::Post = serde_json::from_value(serde_json::json!({
            "id": "mastodon:10.0.0.5:8443/x:1", "url": "https://x.test/1", "text": "t",
            "created_at": "2026-11-30T10:00:00Z", "source": "mastodon",
        }))
        .unwrap();
        if let Ok(threads::Target::Fetch(u)) = threads::target(&post, &plan.bases) {
            assert!(!plan.fetches(&u), "{u}");
        }
        post.id = "mastodon:mastodon.social:1".into();
        match threads::target(&post, &plan.bases) {
            Ok(threads::Target::Fetch(u)) => assert!(plan.fetches(&u), "{u}"),
            other => panic!("{other:?}"),
        }
    }
}
