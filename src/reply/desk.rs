//! [`Desk`]: the daemon's replies across reloads. The inbox, the API and the sender
//! ask it for the current [`Replies`] (the accounts, templates and rules of the
//! config now in force); a reload swaps that in and keeps the sender's wake-up.

use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;

use super::service::Replies;
use crate::store::replies::ReplyRecord;
use crate::store::StoredMention;

pub struct Desk {
    current: RwLock<Arc<Replies>>,
}

/// Told of each draft written (the daemon queues notices to the approvers).
pub type Notifier = dyn Fn(&StoredMention, &ReplyRecord) + Send + Sync;

impl Desk {
    pub fn new(r: Replies) -> Desk {
        Desk {
            current: RwLock::new(Arc::new(r)),
        }
    }

    /// Tells `f` of each draft written from now on (kept across reloads).
    pub fn set_notifier(&self, f: Arc<Notifier>) {
        let r = self.get();
        let mut cell = match r.notify.write() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        *cell = Some(f);
    }

    /// The replies of the config in force.
    pub fn get(&self) -> Arc<Replies> {
        match self.current.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts the replies of a reloaded config in force (queued replies go out with
    /// its accounts).
    pub fn replace(&self, mut r: Replies) {
        let mut cur = match self.current.write() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        r.wake = cur.wake.clone();
        r.notify = cur.notify.clone();
        *cur = Arc::new(r);
        cur.wake.notify_one();
    }

    /// Sends replies until `cancel`, with whichever config is in force each round.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            let r = self.get();
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = r.run_round() => {}
            }
        }
    }
}
