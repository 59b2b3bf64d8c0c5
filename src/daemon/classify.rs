//! The classifier stage: collects whatever arrived within `batch_wait` (up to
//! `max_batch`), runs it on a blocking thread, passes the results on. Under load the
//! batches grow while the model is busy; when idle a lone post waits only
//! `batch_wait`.

use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::metrics::{Metrics, BATCH_BUCKETS, LATENCY_BUCKETS};
use crate::classifier::{Classifier, ClassifierError, Prediction};

/// A text to classify, with whatever the next stage needs to go on.
#[derive(Debug)]
pub struct Job<T> {
    pub item: T,
    pub text: String,
}

type Reply = tokio::sync::oneshot::Sender<Vec<Result<Prediction, String>>>;

/// After this long without a batch, the model thread returns freed memory to the OS.
const TRIM_WHEN_IDLE: Duration = Duration::from_secs(1);
/// Under a load that never pauses, it does so at least this often.
const TRIM_AT_LEAST_EVERY: Duration = Duration::from_secs(30);

/// The model on a dedicated thread of its own (libtorch tensors may move between
/// threads but not be shared), fed whole batches. Between bursts it hands the memory
/// the batches' tensors freed back to the OS ([`crate::util::release_free_memory`]),
/// so the daemon's resident memory does not creep up under a steady stream.
struct ModelThread {
    tx: std::sync::mpsc::Sender<(Vec<String>, Reply)>,
}

impl ModelThread {
    fn start(classifier: Classifier) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<(Vec<String>, Reply)>();
        std::thread::Builder::new()
            .name("classifier".into())
            .spawn(move || {
                let mut worked_since_trim = false;
                let mut last_trim = Instant::now();
                loop {
                    match rx.recv_timeout(TRIM_WHEN_IDLE) {
                        Ok((texts, reply)) => {
                            let _ = reply.send(classify_resilient(&classifier, &texts));
                            worked_since_trim = true;
                            if last_trim.elapsed() < TRIM_AT_LEAST_EVERY {
                                continue;
                            }
                        }
                        Err(RecvTimeoutError::Timeout) if worked_since_trim => {}
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    crate::util::release_free_memory();
                    worked_since_trim = false;
                    last_trim = Instant::now();
                }
            })?;
        Ok(ModelThread { tx })
    }

    async fn classify(&self, texts: Vec<String>) -> Vec<Result<Prediction, String>> {
        let n = texts.len();
        let (reply, answer) = tokio::sync::oneshot::channel();
        if self.tx.send((texts, reply)).is_err() {
            return vec![Err("the classifier thread has stopped".to_string()); n];
        }
        answer
            .await
            .unwrap_or_else(|_| vec![Err("the classifier thread has stopped".to_string()); n])
    }
}

/// Runs until `input` closes and everything received has been passed on.
pub async fn run<T: Send + 'static>(
    classifier: Classifier,
    mut input: mpsc::Receiver<Job<T>>,
    output: mpsc::Sender<(T, Result<Prediction, String>)>,
    max_batch: usize,
    batch_wait: Duration,
    metrics: Arc<Metrics>,
) {
    let max_batch = max_batch.max(1);
    let model = match ModelThread::start(classifier) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the classifier thread");
            return;
        }
    };
    while let Some(first) = input.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + batch_wait;
        while batch.len() < max_batch {
            // Take what is already queued without waiting, then wait out the window.
            match input.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => match tokio::time::timeout_at(deadline, input.recv()).await {
                    Ok(Some(job)) => batch.push(job),
                    _ => break,
                },
            }
        }
        let (items, texts): (Vec<T>, Vec<String>) =
            batch.into_iter().map(|j| (j.item, j.text)).unzip();
        let n = texts.len();
        let started = Instant::now();
        let results = model.classify(texts).await;
        metrics.observe("overhear_classifier_batch_size", BATCH_BUCKETS, n as f64);
        metrics.observe(
            "overhear_classifier_latency_seconds",
            LATENCY_BUCKETS,
            started.elapsed().as_secs_f64(),
        );
        for (item, r) in items.into_iter().zip(results) {
            if output.send((item, r)).await.is_err() {
                return;
            }
        }
    }
}

/// Classifies a batch; if the batch fails, each text is retried alone so that one
/// bad text cannot take the others down with it.
fn classify_resilient(c: &Classifier, texts: &[String]) -> Vec<Result<Prediction, String>> {
    match c.classify(texts) {
        Ok(preds) => preds.into_iter().map(Ok).collect(),
        Err(e) if texts.len() > 1 => {
            tracing::warn!(error = %e, "classifier batch failed; retrying texts one by one");
            texts
                .iter()
                .map(|t| {
                    c.classify(std::slice::from_ref(t))
                        .map_err(|e: ClassifierError| e.to_string())
                        .and_then(|mut v| v.pop().ok_or_else(|| "no prediction".to_string()))
                })
                .collect()
        }
        Err(e) => vec![Err(e.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::tiny::write_tiny_model;
    use crate::classifier::Architecture;

    #[tokio::test]
    async fn batches_what_arrives_together_and_keeps_every_item() {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_model(dir.path(), Architecture::Bert, 1).unwrap();
        let c = Classifier::load(dir.path(), 64, 8).unwrap();
        let metrics = Arc::new(Metrics::new());
        let (tx, rx) = mpsc::channel(64);
        let (otx, mut orx) = mpsc::channel(64);
        for i in 0..20 {
            tx.send(Job {
                item: i,
                text: format!("text number {i}"),
            })
            .await
            .unwrap();
        }
        drop(tx);
        run(c, rx, otx, 8, Duration::from_millis(5), metrics.clone()).await;
        let mut got = Vec::new();
        while let Some((i, r)) = orx.recv().await {
            assert!(r.is_ok());
            got.push(i);
        }
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        let text = metrics.render();
        // 20 queued items in batches of at most 8: 3 batches
        assert!(
            text.contains("overhear_classifier_batch_size_count 3"),
            "{text}"
        );
    }
}
