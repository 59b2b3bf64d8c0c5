//! The scheduler: every tick, the outbox metrics and everything the clock (rather than
//! a new mention) makes due: digests, summaries, spikes and failing-source notices,
//! queued in the outbox; hourly, the inbox's ended sessions and expired used action
//! links are pruned. Reads the store; never writes mentions and never sends.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::shared::Shared;
use crate::store::MentionFilter;

/// Digests, summaries, spikes and source health: checked every `TICK`.
pub(super) async fn scheduler(shared: Arc<Shared>, cancel: CancellationToken) {
    const TICK: Duration = Duration::from_secs(30);
    let mut tick = tokio::time::interval(TICK);
    let mut since = restored_since(
        shared.store.daemon_state(SINCE_KEY).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read when the scheduler last ran");
            None
        }),
        Utc::now(),
    );
    let mut pruned: Option<chrono::DateTime<Utc>> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Utc::now();
        if pruned.map_or(true, |p| now - p >= chrono::Duration::hours(1)) {
            prune_web_state(&shared, now).await;
            pruned = Some(now);
        }
        match shared.store.outbox_depth() {
            Ok(d) => {
                let m = &shared.metrics;
                m.set("overhear_outbox_depth", &[], d.pending as f64);
                m.set(
                    "overhear_alerts_delivered",
                    &[("result", "sent")],
                    d.sent as f64,
                );
                m.set(
                    "overhear_alerts_delivered",
                    &[("result", "failed")],
                    d.failed as f64,
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the outbox depth"),
        }
        let halted = crate::alerts::sender_health(&shared.store).status().halted;
        let halted = if halted.is_some() { 1.0 } else { 0.0 };
        shared.metrics.set("overhear_outbox_halted", &[], halted);
        let items = match scheduled_items(&shared, since, now) {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(error = %e, "scheduled emails failed; retried at the next tick");
                continue;
            }
        };
        if !items.is_empty() {
            match shared.store.enqueue(&items) {
                Ok(_) => shared.wake_sender(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot queue scheduled emails");
                    continue;
                }
            }
        }
        since = now;
        if let Err(e) = shared.store.set_daemon_state(SINCE_KEY, &since) {
            tracing::warn!(error = %e, "cannot save when the scheduler last ran");
        }
    }
}

/// Deletes the inbox's ended sessions and the used action links that expired.
async fn prune_web_state(shared: &Arc<Shared>, now: chrono::DateTime<Utc>) {
    let store = shared.store.clone();
    let done = tokio::task::spawn_blocking(move || {
        let sessions = store.prune_sessions(now).map_err(|e| e.to_string())?;
        let links = store.prune_used_links(now).map_err(|e| e.to_string())?;
        Ok::<_, String>((sessions, links))
    })
    .await;
    match done {
        Ok(Ok((0, 0))) => {}
        Ok(Ok((sessions, links))) => {
            tracing::debug!(
                sessions,
                links,
                "pruned ended sessions and used action links"
            )
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot prune ended sessions or used links"),
        Err(e) => tracing::warn!(error = %e, "cannot prune ended sessions or used links"),
    }
}

/// Where the scheduler saves up to when it has looked.
const SINCE_KEY: &str = "scheduler_since";
/// How far back a restart catches up on digests and summaries that fell due while the
/// daemon was down (each is sent once; older ones are not worth an email any more).
const CATCH_UP: chrono::Duration = chrono::Duration::days(7);

/// Where the first tick starts: where the last run stopped, at most [`CATCH_UP`] ago
/// (and never in the future: a clock set back).
fn restored_since(
    saved: Option<chrono::DateTime<Utc>>,
    now: chrono::DateTime<Utc>,
) -> chrono::DateTime<Utc> {
    match saved {
        Some(t) if t <= now => t.max(now - CATCH_UP),
        _ => now,
    }
}

/// Whether a source's first poll for `brand` ended within the last hour: what it
/// found (the backlog: `[alerts] backlog`) was written before overhear listened, so
/// the hour's count says nothing about a spike yet.
fn backlog_in_last_hour(shared: &Shared, brand: &str, now: chrono::DateTime<Utc>) -> bool {
    let since = now - chrono::Duration::hours(1);
    shared
        .sources()
        .keys()
        .any(|source| matches!(shared.store.first_poll(source, brand), Ok(Some(t)) if t > since))
}

/// How fast the brand answered in public in the period and the one before (by the
/// UTC days of the posts), when any of its negatives came from a source with threads.
fn answered(
    shared: &Shared,
    period: &crate::alerts::SummaryPeriod,
) -> Result<Option<crate::alerts::Answered>, crate::store::StoreError> {
    let (prev, start, end) = (
        period.previous_start.date_naive(),
        period.start.date_naive(),
        period.end.date_naive(),
    );
    let groups = shared
        .store
        .responses_by(period.previous_start, |day, b, _| {
            if !b.eq_ignore_ascii_case(&period.brand) {
                Vec::new()
            } else if day >= start && day < end.max(start.succ_opt().unwrap_or(start)) {
                vec![true]
            } else if day >= prev && day < start {
                vec![false]
            } else {
                Vec::new()
            }
        })?;
    if groups.is_empty() {
        return Ok(None);
    }
    Ok(Some(crate::alerts::Answered {
        current: groups.get(&true).cloned().unwrap_or_default(),
        previous: groups.get(&false).cloned().unwrap_or_default(),
    }))
}

/// Everything the clock (rather than a new mention) makes due in `(since, now]`.
fn scheduled_items(
    shared: &Shared,
    since: chrono::DateTime<Utc>,
    now: chrono::DateTime<Utc>,
) -> Result<Vec<crate::alerts::OutboxItem>, crate::store::StoreError> {
    let alerter = shared.alerter();
    let mut items = alerter.digest_ticks(since, now);
    for period in alerter.summaries_due(since, now) {
        let filter = |from, to| MentionFilter {
            brand: Some(period.brand.clone()),
            since: Some(from),
            until: Some(to),
            ..Default::default()
        };
        let current = shared.store.list(&filter(period.start, period.end))?;
        let previous = shared
            .store
            .list(&filter(period.previous_start, period.start))?;
        let answered = answered(shared, &period)?;
        items.extend(alerter.summary_items(
            &period,
            &current,
            &crate::alerts::tally(&previous),
            answered,
            now,
        ));
    }
    // Spikes: negatives in the last hour against the hourly mean of the last week.
    let brands: Vec<String> = shared
        .live
        .read()
        .map(|l| l.brands.clone())
        .unwrap_or_else(|p| p.into_inner().brands.clone());
    for brand in brands {
        let count = |from: chrono::DateTime<Utc>| {
            shared.store.count(&MentionFilter {
                brand: Some(brand.clone()),
                sentiment: Some("negative".into()),
                since: Some(from),
                until: Some(now),
                ..Default::default()
            })
        };
        if backlog_in_last_hour(shared, &brand, now) {
            continue;
        }
        let last_hour = count(now - chrono::Duration::hours(1))?;
        // The week's baseline (a longer scan) only matters once the hour is busy.
        let busy = alerter
            .rule(&brand)
            .is_some_and(|r| last_hour >= r.spike_min_count.max(1));
        if !busy {
            continue;
        }
        let week = count(now - chrono::Duration::days(7))?;
        let baseline = week.saturating_sub(last_hour) as f64 / (7.0 * 24.0 - 1.0);
        items.extend(alerter.spike_items(&brand, last_hour, baseline, now));
    }
    // Escalations: alerted mentions still new after their brand's escalate_after.
    if let Some(window) = alerter.escalation_window() {
        let open = shared.store.list_stored(&MentionFilter {
            status: Some(crate::store::Status::New),
            since: now.checked_sub_signed(window + CATCH_UP),
            ..Default::default()
        })?;
        for m in &open {
            items.extend(alerter.escalation_items(m, now));
        }
    }
    // Reminders: alerted mentions nobody answered in public (the thread watch).
    if let Some(window) = alerter.remind_window() {
        let open = shared.store.list_stored(&MentionFilter {
            since: now.checked_sub_signed(window + CATCH_UP),
            ..Default::default()
        })?;
        for m in &open {
            items.extend(alerter.reminder_items(m, now));
        }
    }
    let failing = shared
        .failing
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for (source, (since, error)) in failing {
        items.extend(alerter.source_health_items(&source, since, &error, now));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_catches_up_from_where_the_last_run_stopped() {
        let now = Utc::now();
        let three_hours = now - chrono::Duration::hours(3);
        assert_eq!(restored_since(Some(three_hours), now), three_hours);
        assert_eq!(restored_since(None, now), now);
        assert_eq!(
            restored_since(Some(now - chrono::Duration::days(30)), now),
            now - CATCH_UP
        );
        assert_eq!(
            restored_since(Some(now + chrono::Duration::hours(1)), now),
            now
        );
    }
}
