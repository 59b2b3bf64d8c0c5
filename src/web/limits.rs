//! Failed logins, counted per account and per client address, with a backoff that
//! slows whoever guesses without locking the account's owner out.
//!
//! - **Per account** (the login name or email, trimmed and case-folded, and resolved
//!   to the user's name when it names one, so that name and email share a
//!   counter): after [`ACCOUNT_FREE`] failures, each further attempt *from an
//!   address that failed for this account* waits `15 s × 2^(n − 5)`, at most 15
//!   minutes, counted from the last failure. An address with no failures for the
//!   account is never held back by the account's counter: the owner logs in from
//!   their own machine while someone else guesses.
//! - **Per client address** (the peer, or the `X-Forwarded-For` client behind a
//!   trusted proxy, see [`super::client`]; an IPv6 client by its /64): after
//!   [`CLIENT_FREE`] failures, for any names, each further attempt from it waits
//!   `15 s × 2^(n − 20)`, at most 15 minutes.
//! - A counter is forgotten an hour after its last failure. Nothing is counted in
//!   all: there is no global lockout. Refused attempts (429) are not counted; a
//!   success clears the account's memory of that address only.
//! - Memory is bounded: at most [`MAX_ENTRIES`] accounts and as many addresses, and
//!   [`MAX_FROM`] addresses per account; old entries are pruned, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one account before its failing addresses wait.
pub const ACCOUNT_FREE: u32 = 5;
/// Failures of one client address before it waits.
pub const CLIENT_FREE: u32 = 20;
/// The first wait; each failure past the free ones doubles it.
const BASE: Duration = Duration::from_secs(15);
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// A counter without a failure this long is forgotten.
const FORGET: Duration = Duration::from_secs(60 * 60);
/// The most accounts, and the most client addresses, remembered.
pub const MAX_ENTRIES: usize = 10_000;
/// The most failing addresses remembered per account.
pub const MAX_FROM: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Strikes {
    n: u32,
    last: Instant,
}

impl Strikes {
    fn fresh(now: Instant) -> Strikes {
        Strikes { n: 0, last: now }
    }

    fn forgotten(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) >= FORGET
    }

    fn bump(&mut self, now: Instant) {
        if self.forgotten(now) {
            self.n = 0;
        }
        self.n = self.n.saturating_add(1);
        self.last = self.last.max(now);
    }

    /// How long an attempt at `now` must still wait, with `free` failures allowed.
    fn wait(&self, free: u32, now: Instant) -> Option<Duration> {
        if self.n < free || self.forgotten(now) {
            return None;
        }
        let doublings = self.n.saturating_sub(free).min(16);
        let backoff = BASE
            .checked_mul(1u32 << doublings)
            .map_or(MAX_WAIT, |d| d.min(MAX_WAIT));
        let until = self.last.checked_add(backoff)?;
        let left = until.saturating_duration_since(now);
        (!left.is_zero()).then_some(left)
    }
}

#[derive(Debug)]
struct Account {
    strikes: Strikes,
    /// The addresses that failed for this account, and when they last did.
    from: HashMap<IpAddr, Instant>,
}

/// The counters; shared by the login handler.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    inner: Mutex<Limits>,
}

#[derive(Debug, Default)]
struct Limits {
    accounts: HashMap<String, Account>,
    clients: HashMap<IpAddr, Strikes>,
}

/// The key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber's
/// network), IPv4-mapped IPv6 as IPv4.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match crate::util::cidr::canonical(ip) {
        IpAddr::V6(a) => {
            let bits = u128::from(a) & (u128::MAX << 64);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// The account key of a login as typed: trimmed and case-folded.
pub fn normalise(login: &str) -> String {
    login.trim().to_lowercase()
}

/// Drops forgotten entries; at `max` still, the one with the oldest failure.
fn make_room<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    last: impl Fn(&V) -> Instant,
    now: Instant,
) {
    if map.len() < max {
        return;
    }
    map.retain(|_, v| now.saturating_duration_since(last(v)) < FORGET);
    while map.len() >= max {
        let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| last(v))
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
}

impl LoginLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(wait)` when `client` must wait before trying `account` (a key from
    /// [`normalise`], or the user's name) again.
    pub fn check(&self, account: &str, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let client = client_key(client);
        let l = self.lock();
        let by_client = l
            .clients
            .get(&client)
            .and_then(|s| s.wait(CLIENT_FREE, now));
        let by_account = l.accounts.get(account).and_then(|a| {
            let failed_here = a
                .from
                .get(&client)
                .is_some_and(|t| now.saturating_duration_since(*t) < FORGET);
            if failed_here {
                a.strikes.wait(ACCOUNT_FREE, now)
            } else {
                None
            }
        });
        match by_client.max(by_account) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a wrong password (or unknown name) for `account` from `client`.
    pub fn failed(&self, account: &str, client: IpAddr, now: Instant) {
        let client = client_key(client);
        let mut l = self.lock();
        if !l.clients.contains_key(&client) {
            make_room(&mut l.clients, MAX_ENTRIES, |s| s.last, now);
        }
        l.clients
            .entry(client)
            .or_insert_with(|| Strikes::fresh(now))
            .bump(now);
        if !l.accounts.contains_key(account) {
            make_room(&mut l.accounts, MAX_ENTRIES, |a| a.strikes.last, now);
        }
        let a = l
            .accounts
            .entry(account.to_string())
            .or_insert_with(|| Account {
                strikes: Strikes::fresh(now),
                from: HashMap::new(),
            });
        if a.strikes.forgotten(now) {
            a.from.clear();
        }
        a.strikes.bump(now);
        if !a.from.contains_key(&client) {
            make_room(&mut a.from, MAX_FROM, |t| *t, now);
        }
        a.from.insert(client, now);
    }

    /// A right password for `account` from `client`: that address is no longer one
    /// that failed for the account (the client's own counter stays).
    pub fn succeeded(&self, account: &str, client: IpAddr) {
        let client = client_key(client);
        let mut l = self.lock();
        if let Some(a) = l.accounts.get_mut(account) {
            a.from.remove(&client);
            if a.from.is_empty() {
                l.accounts.remove(account);
            }
        }
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let l = self.lock();
        (l.accounts.len(), l.clients.len())
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
