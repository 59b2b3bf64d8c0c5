//! Who polls what: one lease per *host* in the leases bucket, so that every source
//! of a host is polled by exactly one live worker and the host's rate budget holds
//! cluster-wide (adding workers never doubles the load on Reddit).
//!
//! A lease is a key whose value is the owner's name and its per-process random id
//! ([`holder`]): two workers given the same name (a copied config file) are still two
//! owners, and neither ever takes over a lease the other holds. The bucket's TTL is the lease
//! period: the owner renews it (a compare-and-set on its revision) several times per
//! period; a worker that dies, hangs or is cut off stops renewing and the key ages
//! out, after which another worker creates it. The owner's *own* view is stricter
//! than the server's: it counts a lease valid for only three quarters of the period
//! from the moment it *sent* the renewal, and checks that before every poll and every
//! publish. A worker that was stopped (SIGSTOP, a partition) for longer than that
//! therefore never polls or publishes for a host another worker may already own,
//! even before it learns that it lost it.
//!
//! Why leases and not a queue of poll tasks: a source's cursor, ETags and
//! `Retry-After` waits live with whoever polls it, and a lease keeps them in one
//! process for as long as it lives; tasks would move them on every poll.
//!
//! Fair share: with `H` hosts and `N` live workers (heartbeats in the workers
//! bucket) each worker holds at most `ceil(H / N)`, gives back its excess, and takes
//! free hosts up to its share, preferring them by rendezvous hashing (so that workers
//! rarely race for the same host and a host tends to return to the same worker).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_nats::jetstream::kv;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::wire::host_key;

/// The most hosts one of `workers` live workers holds.
pub fn share(hosts: usize, workers: usize) -> usize {
    hosts.div_ceil(workers.max(1))
}

/// `hosts` in the order `me` prefers them (rendezvous hashing: highest score first).
pub fn rank(me: &str, hosts: impl IntoIterator<Item = String>) -> Vec<String> {
    let score = |h: &str| {
        let d = Sha256::new()
            .chain_update(h.as_bytes())
            .chain_update([0])
            .chain_update(me.as_bytes())
            .finalize();
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    };
    let mut v: Vec<(u64, String)> = hosts.into_iter().map(|h| (score(&h), h)).collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    v.into_iter().map(|(_, h)| h).collect()
}

#[derive(Debug, Clone, Copy)]
struct Held {
    revision: u64,
    valid_until: Instant,
}

/// What one [`Leases::tick`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub gained: Vec<String>,
    pub lost: Vec<String>,
}

/// A lease's value: the worker's name and its process's random id.
pub fn holder(name: &str, id: &str) -> String {
    format!("{name} {id}")
}

/// A fresh per-process id (random, hex): what tells apart two workers of one name.
pub fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The worker name of a lease's value (`None` when it is not a [`holder`]).
pub fn holder_name(value: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(value).ok()?;
    let (name, id) = text.split_once(' ')?;
    (!name.is_empty() && !id.is_empty()).then_some(name)
}

/// This worker's leases.
pub struct Leases {
    store: kv::Store,
    /// This process's [`holder`] value.
    me: String,
    /// The worker's name alone (its rendezvous ranking stays across restarts).
    name: String,
    ttl: Duration,
    held: Mutex<HashMap<String, Held>>,
}

impl Leases {
    /// The leases of the worker `name` whose process id is `id` ([`new_id`]).
    pub fn new(store: kv::Store, name: &str, id: &str, ttl: Duration) -> Leases {
        Leases {
            store,
            me: holder(name, id),
            name: name.to_string(),
            ttl,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// How often to call [`Leases::tick`]: four times per lease period.
    pub fn tick_every(&self) -> Duration {
        self.ttl / 4
    }

    fn valid_for(&self) -> Duration {
        self.ttl.mul_f64(0.75)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this worker may poll (and publish for) `host` right now.
    pub fn holds(&self, host: &str) -> bool {
        self.map()
            .get(host)
            .is_some_and(|h| Instant::now() < h.valid_until)
    }

    /// The hosts held now.
    pub fn held(&self) -> Vec<String> {
        let mut v: Vec<String> = self.map().keys().cloned().collect();
        v.sort();
        v
    }

    /// Renews what is held, gives back what is no longer configured or past the fair
    /// share of `workers` live workers, and takes free hosts up to that share.
    pub async fn tick(&self, hosts: &[String], workers: usize) -> Changes {
        let start = Instant::now();
        let wanted: HashSet<&String> = hosts.iter().collect();
        let mut changes = Changes::default();
        let held: Vec<(String, Held)> = self.map().iter().map(|(k, v)| (k.clone(), *v)).collect();
        for (host, h) in held {
            let key = host_key(&host);
            if !wanted.contains(&host) {
                self.give_back(&host, &key).await;
                changes.lost.push(host);
                continue;
            }
            match self
                .store
                .update(&key, self.me.clone().into(), h.revision)
                .await
            {
                Ok(revision) => {
                    self.map().insert(
                        host,
                        Held {
                            revision,
                            valid_until: start + self.valid_for(),
                        },
                    );
                }
                Err(e) => {
                    // Not renewed: the lease runs out on its own; another worker may
                    // have it already (then it never comes back to this revision).
                    tracing::warn!(%host, error = %e, "cannot renew the lease");
                    if Instant::now() >= h.valid_until {
                        self.map().remove(&host);
                        changes.lost.push(host);
                    }
                }
            }
        }
        let target = share(hosts.len(), workers);
        let held = self.held();
        if held.len() > target {
            for host in rank(&self.name, held).into_iter().skip(target) {
                let key = host_key(&host);
                self.give_back(&host, &key).await;
                changes.lost.push(host);
            }
        }
        let mut count = self.map().len();
        if count < target {
            let free: Vec<String> = hosts
                .iter()
                .filter(|h| !self.map().contains_key(*h))
                .cloned()
                .collect();
            for host in rank(&self.name, free) {
                if count >= target {
                    break;
                }
                if let Some(revision) = self.take(&host).await {
                    self.map().insert(
                        host.clone(),
                        Held {
                            revision,
                            valid_until: start + self.valid_for(),
                        },
                    );
                    changes.gained.push(host);
                    count += 1;
                }
            }
        }
        changes
    }

    /// Takes `host` if nobody holds it (or this very process still does, from before
    /// a lost connection: the same name *and* id; another process of the same name
    /// holds it as any other worker would); its revision.
    async fn take(&self, host: &str) -> Option<u64> {
        let key = host_key(host);
        match self.store.entry(&key).await {
            Ok(Some(e)) if e.operation == kv::Operation::Put => {
                if e.value.as_ref() != self.me.as_bytes() {
                    return None;
                }
                self.store
                    .update(&key, self.me.clone().into(), e.revision)
                    .await
                    .ok()
            }
            Ok(_) => self.store.create(&key, self.me.clone().into()).await.ok(),
            Err(e) => {
                tracing::warn!(%host, error = %e, "cannot read the lease");
                None
            }
        }
    }

    async fn give_back(&self, host: &str, key: &str) {
        self.map().remove(host);
        // Stopped polling first (the caller's tasks see `holds` false), then deleted:
        // another worker may take it at once. If the delete fails it ages out.
        if let Err(e) = self.store.delete(key).await {
            tracing::warn!(%host, error = %e, "cannot give the lease back; it runs out on its own");
        }
    }

    /// Gives every lease back (a clean shutdown): other workers take them at once
    /// instead of after a lease period.
    pub async fn release_all(&self) {
        for host in self.held() {
            let key = host_key(&host);
            self.give_back(&host, &key).await;
        }
    }
}

/// Who holds which host (host, the full [`holder`] value), read from the bucket.
/// Anyone who may write leases writes these: the caller bounds what it uses.
pub async fn owners(store: &kv::Store) -> Result<Vec<(String, String)>, String> {
    use futures::StreamExt;
    let mut keys = store.keys().await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(k) = keys.next().await {
        let Ok(k) = k else { continue };
        let Some(host) = super::wire::host_of_key(&k) else {
            continue;
        };
        if let Ok(Some(v)) = store.get(&k).await {
            out.push((host, String::from_utf8_lossy(&v).into_owned()));
        }
    }
    out.sort();
    Ok(out)
}

/// How many workers have a live heartbeat.
pub async fn live_workers(store: &kv::Store) -> Result<usize, String> {
    use futures::StreamExt;
    let keys = store.keys().await.map_err(|e| e.to_string())?;
    Ok(keys
        .filter(|k| futures::future::ready(k.is_ok()))
        .count()
        .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_is_a_name_and_an_id() {
        let a = holder("w1", &new_id());
        let b = holder("w1", &new_id());
        assert_ne!(a, b, "two processes of one name are two holders");
        assert_eq!(holder_name(a.as_bytes()), Some("w1"));
        assert_eq!(
            holder_name(b"w1"),
            None,
            "a bare name (the old format) holds nothing"
        );
        assert_eq!(holder_name(b" x"), None);
    }

    #[test]
    fn the_share_covers_every_host() {
        assert_eq!(share(4, 2), 2);
        assert_eq!(share(5, 2), 3);
        assert_eq!(share(3, 0), 3);
        assert_eq!(share(0, 3), 0);
        for h in 0..20 {
            for w in 1..6 {
                assert!(share(h, w) * w >= h);
            }
        }
    }

    #[test]
    fn rendezvous_ranks_are_stable_and_spread() {
        let hosts: Vec<String> = (0..40).map(|i| format!("127.0.0.1:{}", 9000 + i)).collect();
        let a = rank("w1", hosts.clone());
        assert_eq!(a, rank("w1", hosts.iter().rev().cloned()));
        let b = rank("w2", hosts.clone());
        assert_ne!(a, b);
        // each worker's top half overlaps the other's by about half, not fully
        let top_a: HashSet<_> = a[..20].iter().collect();
        let common = b[..20].iter().filter(|h| top_a.contains(h)).count();
        assert!((4..=16).contains(&common), "{common}");
    }
}
