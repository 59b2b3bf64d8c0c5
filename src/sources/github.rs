//! GitHub: issues and pull requests from the search API
//! (`/search/issues?q=TERM created:>=TIME&sort=created&order=desc&per_page=100`,
//! TIME as `2024-01-02T03:04:05+00:00`), one search per query (the source's `queries`,
//! else the brands' search terms), narrowed
//! by `repo:OWNER/NAME` qualifiers when `repos` is set. Each query resumes from the
//! newest `created_at` it saw; the first poll takes one page; what one poll cannot
//! page through ([`MAX_PAGES`] a query) is a gap the next polls page back through.
//!
//! The search quota is small: 10 requests a minute without a token, 30 with one
//! (`token_env`/`token_file`, sent as `Authorization: Bearer`). The source keeps the
//! times of its own requests and never sends more than the quota in any 60 seconds:
//! when the window is full it stops the poll, keeps the cursors of the queries it did
//! not ask, asks for the wait until the window has room, and starts the next poll with
//! the query it stopped at. The times go into the cursor too (`sent`), so that a
//! cluster worker that takes the host's lease over keeps to the same quota.
//! `x-ratelimit-remaining: 0` (with `x-ratelimit-reset`) stops
//! it too, and a 403 or 429 saying when to come back is a rate limit (`fetch.rs`).
//!
//! Posts: id `github:OWNER/REPO#NUMBER`, URL `html_url`, title the issue's, text its
//! markdown body less HTML comments (issue templates), site `github.com/OWNER/REPO`.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::fetch::{Expect, GetOpts};
use super::{
    from_unix, off_runtime, secret, Api, Fetched, Gap, Gather, GitHubConfig, HasSeen, Kind,
    NewestState, Queries, Seen, SourceContext, SourceError,
};
use crate::post::Post;
use issue::{post, Issue};

pub(crate) const DEFAULT_BASE: &str = "https://api.github.com";

/// Pages one query reads in one poll at most (new ones and gaps together).
const MAX_PAGES: u32 = 3;
const PER_PAGE: usize = 100;
/// Search requests a minute: without a token, and with one.
pub(crate) const QUOTA_ANONYMOUS: usize = 10;
pub(crate) const QUOTA_TOKEN: usize = 30;
const WINDOW_MS: i64 = 60_000;

pub(crate) struct GitHub {
    api: Api,
    queries: Queries,
    /// `repo:OWNER/NAME` qualifiers, joined.
    repos: String,
    token: Option<String>,
    /// Requests allowed in any [`WINDOW`].
    quota: usize,
    /// When this source sent its last requests (Unix ms, oldest first, at most
    /// `quota` of the last minute).
    sent: Vec<i64>,
    /// The query the next poll starts with (where the last one stopped).
    next_query: usize,
    /// Responses this poll had so far: a rate limit after the first keeps what they
    /// brought.
    answered: u32,
}

/// Newest `created_at` seen per query (`newest`, `gaps`, `seen`), and the times of
/// the last minute's searches, so that a worker taking the host over from another
/// (a cluster's lease) keeps to the same quota.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    #[serde(flatten)]
    search: NewestState,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sent: Vec<i64>,
}

impl HasSeen for State {
    fn seen(&mut self) -> &mut Seen {
        &mut self.search.seen
    }
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    items: Vec<Issue>,
    #[serde(default)]
    total_count: Option<u64>,
}

/// Why paging one query stopped.
struct Paged {
    complete: bool,
    oldest: Option<i64>,
    pages: u32,
    /// The quota or the server said: no more requests this poll.
    stop: bool,
}

impl GitHub {
    pub fn new(cfg: &GitHubConfig, ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        let mut repos = Vec::new();
        for r in &cfg.repos {
            let r = r.trim().trim_matches('/');
            let ok = r.split('/').count() == 2
                && r.split('/').all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                });
            if !ok {
                return Err(SourceError::Config(format!(
                    "source {name:?}: repos entry {r:?} is not OWNER/NAME"
                )));
            }
            repos.push(format!("repo:{r}"));
        }
        let token = secret(cfg.token_env.as_ref(), cfg.token_file.as_ref())?;
        Ok(GitHub {
            api: Api::new(ctx, cfg.base_url.as_deref(), DEFAULT_BASE, name)?,
            queries: Queries::new(&cfg.queries, ctx, name)?,
            repos: repos.join(" "),
            quota: if token.is_some() {
                QUOTA_TOKEN
            } else {
                QUOTA_ANONYMOUS
            },
            token,
            sent: Vec::new(),
            next_query: 0,
            answered: 0,
        })
    }

    /// Takes a request from the quota at `now` (Unix ms); `Err(wait)` when the last
    /// minute used it up. Times a minute or more away (a clock set back) are dropped.
    fn take_quota(&mut self, now: i64) -> Result<(), Duration> {
        self.sent
            .retain(|t| *t > now - WINDOW_MS && *t < now + WINDOW_MS);
        self.sent.sort_unstable();
        if self.sent.len() >= self.quota {
            let oldest = self.sent.first().copied().unwrap_or(now);
            let ms = (oldest + WINDOW_MS - now).clamp(0, WINDOW_MS);
            return Err(Duration::from_millis(ms.unsigned_abs()));
        }
        self.sent.push(now);
        Ok(())
    }

    /// The `q` of one search: the term (quoted when it has spaces), the repositories,
    /// the time range.
    fn q(&self, term: &str, from: Option<i64>, to: Option<i64>) -> String {
        let term = term.trim();
        let mut q = if term.contains(char::is_whitespace) && !term.starts_with('"') {
            format!("\"{}\"", term.replace('"', ""))
        } else {
            term.to_string()
        };
        if !self.repos.is_empty() {
            q.push(' ');
            q.push_str(&self.repos);
        }
        let iso = |t: i64| from_unix(t).to_rfc3339_opts(SecondsFormat::Secs, false);
        match (from, to) {
            (Some(f), Some(t)) => q.push_str(&format!(" created:{}..{}", iso(f), iso(t))),
            (Some(f), None) => q.push_str(&format!(" created:>={}", iso(f))),
            (None, Some(t)) => q.push_str(&format!(" created:<={}", iso(t))),
            (None, None) => {}
        }
        q
    }

    /// Pages through `term`'s issues created in `from..=to`, newest first, at most
    /// `max_pages`, within the quota.
    async fn range(
        &mut self,
        got: &mut Gather<State>,
        term: &str,
        (from, to): (Option<i64>, Option<i64>),
        max_pages: u32,
    ) -> Result<Paged, SourceError> {
        let q = self.q(term, from, to);
        let mut paged = Paged {
            complete: true,
            oldest: None,
            pages: 0,
            stop: false,
        };
        while paged.pages < max_pages {
            if let Err(wait) = self.take_quota(Utc::now().timestamp_millis()) {
                got.wait_at_least(Some(wait));
                paged.complete = false;
                paged.stop = true;
                break;
            }
            let page = (paged.pages + 1).to_string();
            let url = self.api.url(
                "search/issues",
                &[
                    ("q", q.as_str()),
                    ("sort", "created"),
                    ("order", "desc"),
                    ("per_page", "100"),
                    ("page", page.as_str()),
                ],
            );
            let opts = GetOpts {
                bearer: self.token.as_deref(),
                headers: vec![
                    ("Accept", "application/vnd.github+json".into()),
                    ("X-GitHub-Api-Version", "2022-11-28".into()),
                ],
                ..GetOpts::default()
            };
            let resp = match self.api.http.get(&url, Expect::Json, opts).await {
                Ok(Some(r)) => r,
                Ok(None) => break,
                // what this poll read so far is kept; the rest waits for the next
                Err(SourceError::RateLimited { retry_after }) if self.answered > 0 => {
                    got.wait_at_least(retry_after.or(Some(Duration::from_secs(60))));
                    paged.complete = false;
                    paged.stop = true;
                    break;
                }
                Err(e) => return Err(e),
            };
            paged.pages += 1;
            self.answered += 1;
            if resp.wait_hint.is_some() {
                // x-ratelimit-remaining: 0: the window is used up
                got.wait_at_least(resp.wait_hint);
                paged.stop = true;
            }
            let name = self.api.name.clone();
            let (total, items) = off_runtime(move || {
                let page: SearchPage = resp.json()?;
                let items: Vec<(Option<i64>, Option<Post>)> = page
                    .items
                    .into_iter()
                    .map(|i| (i.created_at.map(|t| t.timestamp()), post(&name, i)))
                    .collect();
                Ok((page.total_count, items))
            })
            .await?;
            let n = items.len();
            for (t, p) in items {
                if let Some(t) = t {
                    got.next.search.saw(term, t);
                    paged.oldest = Some(paged.oldest.map_or(t, |o| o.min(t)));
                }
                got.posts.extend(p);
            }
            let read = u64::from(paged.pages) * PER_PAGE as u64;
            paged.complete = n < PER_PAGE || total.is_some_and(|t| t <= read);
            if paged.complete || paged.stop {
                break;
            }
        }
        Ok(paged)
    }

    /// One query's poll: new issues, then its gaps, within one budget of pages.
    /// Returns whether the poll must stop (the quota is used up) and whether this
    /// query read anything.
    async fn query(
        &mut self,
        got: &mut Gather<State>,
        state: &State,
        term: &str,
    ) -> Result<(bool, bool), SourceError> {
        let Some(since) = self.queries.since(&state.search, term) else {
            // the first poll takes the newest page only
            let r = self.range(got, term, (None, None), 1).await?;
            return Ok((r.stop, r.pages > 0));
        };
        let r = self
            .range(got, term, (Some(since), None), MAX_PAGES)
            .await?;
        let mut budget = MAX_PAGES.saturating_sub(r.pages);
        if let (false, Some(oldest)) = (r.complete, r.oldest) {
            let gap = Gap {
                from: since,
                to: oldest,
                left: 0,
            };
            got.skipped = got
                .skipped
                .saturating_add(got.next.search.open_gap(term, gap));
        }
        if r.stop {
            return Ok((true, r.pages > 0));
        }
        for gap in state.search.gaps_of(term) {
            if budget == 0 {
                break;
            }
            let r = self
                .range(got, term, (Some(gap.from), Some(gap.to)), budget)
                .await?;
            budget = budget.saturating_sub(r.pages);
            let rest = if r.pages == 0 {
                Some(gap)
            } else {
                gap.rest(r.complete, r.oldest, 0)
            };
            got.next.search.update_gap(term, gap, rest);
            if r.stop {
                return Ok((true, true));
            }
        }
        Ok((false, true))
    }
}

/// The union of two lists of request times where each may hold the other's (the
/// cursor this instance saved, another worker's): every time as often as the list
/// that has it most often holds it (two requests may share a millisecond).
fn merge_sent(a: &[i64], b: &[i64]) -> Vec<i64> {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                out.push(*x);
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                out.push(*x);
                i += 1;
            }
            (Some(_), Some(y)) | (None, Some(y)) => {
                out.push(*y);
                j += 1;
            }
            (Some(x), None) => {
                out.push(*x);
                i += 1;
            }
            (None, None) => break,
        }
    }
    out
}

impl Kind for GitHub {
    type State = State;
    const KIND: &'static str = "github";

    async fn fetch(&mut self, state: &State) -> Result<Fetched<State>, SourceError> {
        let mut got = Gather::new(state);
        // the searches another worker sent from this source's cursor count too
        self.sent = merge_sent(&self.sent, &state.sent);
        let terms = self.queries.queries.clone();
        let n = terms.len();
        let start = self.next_query % n.max(1);
        self.next_query = 0;
        self.answered = 0;
        for k in 0..n {
            let i = (start + k) % n;
            let (stop, read) = self.query(&mut got, state, &terms[i]).await?;
            if stop {
                // the queries not asked keep their cursors; the next poll starts with
                // the first of them
                self.next_query = if read { (i + 1) % n } else { i };
                let asked = k + usize::from(read);
                let note = format!("search quota used up: {asked} of {n} queries asked");
                got.next.sent = self.sent.clone();
                return Ok(got.finish(Some(note)));
            }
        }
        got.next.sent = self.sent.clone();
        Ok(got.finish(None))
    }
}

mod issue;
#[cfg(test)]
mod tests;
