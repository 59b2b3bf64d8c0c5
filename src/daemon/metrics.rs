//! Counters, gauges and histograms for `/metrics`, in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Histogram bucket upper bounds for classifier batch sizes.
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// Histogram bucket upper bounds for latencies in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

type Key = (&'static str, Vec<(&'static str, String)>);

#[derive(Debug, Default)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    counters: BTreeMap<Key, f64>,
    gauges: BTreeMap<Key, f64>,
    histograms: BTreeMap<Key, Histogram>,
    help: BTreeMap<&'static str, (&'static str, &'static str)>,
}

/// The daemon's metrics. Cheap enough for the rates here (a mutex per update).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn labels(l: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    l.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

impl Metrics {
    pub fn new() -> Self {
        let m = Metrics::default();
        for (name, kind, help) in [
            (
                "overhear_posts_fetched_total",
                "counter",
                "Posts fetched, by source.",
            ),
            (
                "overhear_posts_matched_total",
                "counter",
                "Posts that mention at least one brand, by source.",
            ),
            (
                "overhear_mentions_total",
                "counter",
                "Mentions classified, by brand and sentiment.",
            ),
            (
                "overhear_source_errors_total",
                "counter",
                "Failed polls, by source and error kind.",
            ),
            (
                "overhear_source_restarts_total",
                "counter",
                "Source tasks rebuilt after a panic, by source.",
            ),
            (
                "overhear_posts_skipped_total",
                "counter",
                "Posts given up because more arrived between two polls than the paging bounds allow, by source.",
            ),
            (
                "overhear_posts_rejected_total",
                "counter",
                "Posts the store refused (dropped alone, the rest of the poll kept), by source.",
            ),
            (
                "overhear_search_errors_total",
                "counter",
                "Full-text search index failures (index, commit, catch-up, search), by operation; ingest goes on.",
            ),
            (
                "overhear_source_up",
                "gauge",
                "1 when the source's last poll succeeded.",
            ),
            (
                "overhear_classifier_batch_size",
                "histogram",
                "Texts per classifier batch.",
            ),
            (
                "overhear_classifier_latency_seconds",
                "histogram",
                "Time per classifier batch.",
            ),
            (
                "overhear_mentions_stuck",
                "gauge",
                "Stored mentions still unclassified after 5 minutes (retried with backoff).",
            ),
            (
                "overhear_outbox_depth",
                "gauge",
                "Alerts waiting in the outbox.",
            ),
            (
                "overhear_outbox_halted",
                "gauge",
                "1 while the alert sender is stopped because the outbox cannot record deliveries.",
            ),
            (
                "overhear_alerts_queued_total",
                "counter",
                "Alerts written to the outbox.",
            ),
            (
                "overhear_alerts_delivered",
                "gauge",
                "Alerts in the outbox that were sent or gave up, by result.",
            ),
            (
                "overhear_destination_sent_total",
                "counter",
                "Alerts accepted by a destination (email, or a webhook by name).",
            ),
            (
                "overhear_destination_retried_total",
                "counter",
                "Alerts a destination did not take for now (retried with backoff or after its Retry-After).",
            ),
            (
                "overhear_destination_failed_total",
                "counter",
                "Alerts given up on, by destination (refused, or undelivered for give_up_after).",
            ),
            (
                "overhear_destination_latency_seconds",
                "histogram",
                "Time a destination took to answer one message, by destination.",
            ),
            (
                "overhear_destination_up",
                "gauge",
                "1 when the last message to the destination was accepted.",
            ),
            (
                "overhear_watch_checks_total",
                "counter",
                "Threads of alerted mentions checked for the brand's answer, by source and outcome.",
            ),
            (
                "overhear_watch_active",
                "gauge",
                "Threads watched for the brand's answer.",
            ),
        ] {
            m.describe(name, kind, help);
        }
        m
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the maps inconsistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn describe(&self, name: &'static str, kind: &'static str, help: &'static str) {
        self.lock().help.insert(name, (kind, help));
    }

    pub fn inc(&self, name: &'static str, l: &[(&'static str, &str)], by: f64) {
        *self.lock().counters.entry((name, labels(l))).or_default() += by;
    }

    pub fn set(&self, name: &'static str, l: &[(&'static str, &str)], value: f64) {
        self.lock().gauges.insert((name, labels(l)), value);
    }

    /// Replaces every series of the gauge `name` with `series` (a set whose members
    /// come and go, like which worker owns which host).
    pub fn set_all(&self, name: &'static str, series: &[(Vec<(&'static str, String)>, f64)]) {
        let mut inner = self.lock();
        inner.gauges.retain(|(n, _), _| *n != name);
        for (l, v) in series {
            inner.gauges.insert((name, l.clone()), *v);
        }
    }

    pub fn observe(&self, name: &'static str, bounds: &'static [f64], value: f64) {
        self.observe_with(name, &[], bounds, value)
    }

    /// [`Metrics::observe`] for the series with these labels.
    pub fn observe_with(
        &self,
        name: &'static str,
        l: &[(&'static str, &str)],
        bounds: &'static [f64],
        value: f64,
    ) {
        let mut inner = self.lock();
        let h = inner
            .histograms
            .entry((name, labels(l)))
            .or_insert_with(|| Histogram {
                bounds,
                counts: vec![0; bounds.len()],
                ..Default::default()
            });
        for (i, b) in h.bounds.iter().enumerate() {
            if value <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += value;
        h.count += 1;
    }

    /// A counter's current value (for tests and the CLI).
    pub fn counter(&self, name: &'static str, l: &[(&'static str, &str)]) -> f64 {
        self.lock()
            .counters
            .get(&(name, labels(l)))
            .copied()
            .unwrap_or(0.0)
    }

    /// A gauge's last value (0 when never set).
    pub fn gauge(&self, name: &'static str, l: &[(&'static str, &str)]) -> f64 {
        self.lock()
            .gauges
            .get(&(name, labels(l)))
            .copied()
            .unwrap_or(0.0)
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        let fmt_labels = |l: &[(&'static str, String)], extra: Option<(&str, String)>| {
            let mut parts: Vec<String> = l
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            if let Some((k, v)) = extra {
                parts.push(format!("{k}=\"{v}\""));
            }
            if parts.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", parts.join(","))
            }
        };
        for (name, (kind, help)) in &inner.help {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            let series = inner
                .counters
                .iter()
                .chain(inner.gauges.iter())
                .filter(|((n, _), _)| n == name);
            for ((_, l), v) in series {
                let _ = writeln!(out, "{name}{} {v}", fmt_labels(l, None));
            }
            for ((_, l), h) in inner.histograms.iter().filter(|((n, _), _)| n == name) {
                for (b, c) in h.bounds.iter().zip(&h.counts) {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {c}",
                        fmt_labels(l, Some(("le", b.to_string())))
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {}",
                    fmt_labels(l, Some(("le", "+Inf".into()))),
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{} {}", fmt_labels(l, None), h.sum);
                let _ = writeln!(out, "{name}_count{} {}", fmt_labels(l, None), h.count);
            }
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Every delivery attempt of the outbox sender, per destination.
impl crate::alerts::DeliveryObserver for Metrics {
    fn attempt(
        &self,
        destination: &str,
        outcome: crate::alerts::Outcome,
        alerts: usize,
        latency: std::time::Duration,
    ) {
        use crate::alerts::Outcome;
        let l = [("destination", destination)];
        let name = match outcome {
            Outcome::Sent => "overhear_destination_sent_total",
            Outcome::Retried => "overhear_destination_retried_total",
            Outcome::Failed => "overhear_destination_failed_total",
        };
        self.inc(name, &l, alerts as f64);
        self.observe_with(
            "overhear_destination_latency_seconds",
            &l,
            LATENCY_BUCKETS,
            latency.as_secs_f64(),
        );
        let up = if outcome == Outcome::Sent { 1.0 } else { 0.0 };
        self.set("overhear_destination_up", &l, up);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.inc(
            "overhear_mentions_total",
            &[("brand", "Acme"), ("sentiment", "negative")],
            1.0,
        );
        m.inc(
            "overhear_mentions_total",
            &[("brand", "Acme"), ("sentiment", "negative")],
            2.0,
        );
        m.set("overhear_outbox_depth", &[], 4.0);
        m.observe("overhear_classifier_batch_size", BATCH_BUCKETS, 3.0);
        let text = m.render();
        assert!(
            text.contains("# TYPE overhear_mentions_total counter"),
            "{text}"
        );
        assert!(
            text.contains("overhear_mentions_total{brand=\"Acme\",sentiment=\"negative\"} 3"),
            "{text}"
        );
        assert!(text.contains("overhear_outbox_depth 4"), "{text}");
        assert!(
            text.contains("overhear_classifier_batch_size_bucket{le=\"2\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("overhear_classifier_batch_size_bucket{le=\"4\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("overhear_classifier_batch_size_count 1"),
            "{text}"
        );
        assert_eq!(
            m.counter(
                "overhear_mentions_total",
                &[("brand", "Acme"), ("sentiment", "negative")]
            ),
            3.0
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.inc(
            "overhear_posts_fetched_total",
            &[("source", "a\"b\nc")],
            1.0,
        );
        assert!(m.render().contains("source=\"a\\\"b\\nc\""));
    }
}
