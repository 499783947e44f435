//! Recording-ready callbacks (`docs/compatibility.md#callbacks-recording-ready`), sent by a background task so that a
//! slow or failing receiver never holds up an import.
//!
//! For each imported recording whose meeting left a `recording_ready_url` at create: POST the form field
//! `signed_parameters=<JWT {"meeting_id", "record_id"}>` to it, signing with each secret in turn (the LB secrets,
//! or with multitenancy the secrets of the recording's `tenant-id` tenant). A 2xx answer, a 404 or a 410 ends it;
//! any other status tries the next secret. Unlike the original (one attempt), a delivery that failed for a reason
//! that may pass (no connection, a timeout, a 5xx or 429 answer, the store unreachable) is tried again after
//! each of `retry_delays`. On shutdown, callbacks still queued or waiting for a retry get one last attempt.
//!
//! Log lines keep the original's wording. Neither the token nor the receiver's URL is logged (either may carry
//! credentials).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use scalelite_core::bbb::checksum::{Algorithm, AllowedAlgorithms};
use scalelite_core::config::SecretsArgs;
use scalelite_core::domain::Secret;
use scalelite_core::jwt::{self, JwtAlgorithm};
use scalelite_core::shutdown::Shutdown;
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{RecordingStore, StoreError, TenantStore};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// How callbacks are signed and sent.
#[derive(Clone)]
pub struct CallbackSettings {
    /// `LOADBALANCER_SECRET` then `LOADBALANCER_SECRETS`.
    pub lb_secrets: Vec<Secret>,
    /// `MULTITENANCY_ENABLED`: sign with the recording's tenant's secrets.
    pub multitenancy: bool,
    /// From `LOADBALANCER_CHECKSUM_ALGORITHM`, see [`jwt_algorithm`].
    pub algorithm: JwtAlgorithm,
    /// Connecting to the receiver.
    pub connect_timeout: Duration,
    /// The whole request.
    pub request_timeout: Duration,
    /// Pauses before each new attempt of a delivery that failed for a passing reason; its length is the number of
    /// retries.
    pub retry_delays: Vec<Duration>,
    /// Deliveries in flight at once.
    pub concurrency: usize,
}

impl std::fmt::Debug for CallbackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackSettings")
            .field(
                "lb_secrets",
                &format_args!("<{} redacted>", self.lb_secrets.len()),
            )
            .field("multitenancy", &self.multitenancy)
            .field("algorithm", &self.algorithm)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry_delays", &self.retry_delays)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl CallbackSettings {
    /// The settings the configuration gives, with the default timeouts (10 s to connect, 30 s per request) and
    /// retries (after 10 s, 1 min and 5 min).
    pub fn from_config(secrets: &SecretsArgs) -> Self {
        Self {
            lb_secrets: secrets.lb_secrets(),
            multitenancy: secrets.multitenancy_enabled,
            algorithm: jwt_algorithm(&secrets.checksum_algorithms()),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retry_delays: vec![
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            concurrency: 4,
        }
    }
}

/// The callback JWT's algorithm: HS256 if SHA256 is allowed, else HS512 if SHA512 is, else HS256.
pub fn jwt_algorithm(allowed: &AllowedAlgorithms) -> JwtAlgorithm {
    if allowed.contains(Algorithm::Sha256) {
        JwtAlgorithm::Hs256
    } else if allowed.contains(Algorithm::Sha512) {
        JwtAlgorithm::Hs512
    } else {
        JwtAlgorithm::Hs256
    }
}

/// The claims of the callback token, exactly `{"meeting_id": …, "record_id": …}`.
#[derive(Serialize)]
struct Claims<'a> {
    meeting_id: &'a str,
    record_id: &'a str,
}

/// One recording to announce.
#[derive(Clone, Debug)]
pub(crate) struct CallbackJob {
    pub record_id: String,
    pub meeting_id: String,
    /// The recording's `tenant-id` metadata.
    pub tenant_id: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
}

/// The sending side: cheap to clone, never blocks.
#[derive(Clone, Debug)]
pub(crate) struct CallbackQueue {
    tx: mpsc::UnboundedSender<CallbackJob>,
}

impl CallbackQueue {
    pub(crate) fn push(&self, job: CallbackJob) {
        if self.tx.send(job).is_err() {
            tracing::warn!("recording-ready callbacks are stopped; a callback was not queued");
        }
    }
}

/// Start the callback task, tracked by `shutdown` (it stops once shutdown has started, after a last attempt at
/// what is queued, or when every queue handle is dropped and nothing is left to do).
pub(crate) fn spawn(
    store: Store,
    settings: CallbackSettings,
    metrics: Arc<Metrics>,
    shutdown: &Shutdown,
) -> CallbackQueue {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("Scalelite")
        .build()
        .unwrap_or_else(|e| {
            tracing::warn!(error.message = %e, "could not build the callback HTTP client; using defaults");
            reqwest::Client::new()
        });
    let sender = Arc::new(Sender {
        store,
        settings,
        client,
    });
    shutdown.spawn(worker(rx, sender, metrics, shutdown.token()));
    CallbackQueue { tx }
}

struct Sender {
    store: Store,
    settings: CallbackSettings,
    client: reqwest::Client,
}

/// How one attempt ended.
#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    /// The meeting asked for no callback.
    NotWanted,
    /// The receiver answered 2xx, 404 or 410.
    Delivered,
    /// Every secret was refused, or the callback cannot be sent at all: retrying will not help.
    Refused,
    /// It may work later.
    Retry(String),
}

async fn worker(
    mut rx: mpsc::UnboundedReceiver<CallbackJob>,
    sender: Arc<Sender>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let concurrency = sender.settings.concurrency.max(1);
    let mut ready: VecDeque<CallbackJob> = VecDeque::new();
    let mut waiting: Vec<(Instant, CallbackJob)> = Vec::new();
    let mut in_flight: JoinSet<(CallbackJob, Delivery)> = JoinSet::new();
    let mut closed = false;
    loop {
        while in_flight.len() < concurrency {
            let Some(job) = ready.pop_front() else { break };
            let sender = sender.clone();
            in_flight.spawn(async move {
                let outcome = sender.deliver(&job).await;
                (job, outcome)
            });
        }
        if closed && ready.is_empty() && in_flight.is_empty() && waiting.is_empty() {
            return;
        }
        let next_due = waiting.iter().map(|(due, _)| *due).min();
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok((mut job, outcome)) = joined {
                    job.attempts += 1;
                    if let Some(delay) = settle(&sender.settings, &metrics, &job, outcome) {
                        waiting.push((Instant::now() + delay, job));
                    }
                }
            }
            job = rx.recv(), if !closed => match job {
                Some(job) => ready.push_back(job),
                None => closed = true,
            },
            () = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {
                let now = Instant::now();
                let (due, later): (Vec<_>, Vec<_>) = waiting.drain(..).partition(|(at, _)| *at <= now);
                waiting = later;
                ready.extend(due.into_iter().map(|(_, job)| job));
            }
        }
    }

    // Shutting down: let what is in flight finish, then give everything else one last attempt. An attempt that
    // fails as shutdown begins is settled like one that failed a moment before: if it was to be retried, it gets
    // the last attempt too.
    while let Some(joined) = in_flight.join_next().await {
        if let Ok((mut job, outcome)) = joined {
            job.attempts += 1;
            if settle(&sender.settings, &metrics, &job, outcome).is_some() {
                waiting.push((Instant::now(), job));
            }
        }
    }
    rx.close();
    while let Ok(job) = rx.try_recv() {
        ready.push_back(job);
    }
    ready.extend(waiting.into_iter().map(|(_, job)| job));
    for job in ready {
        let outcome = sender.deliver(&job).await;
        last_attempt_outcome(&metrics, &job, outcome);
    }
}

/// Count a finished attempt; returns the pause before the next one when there is to be one.
fn settle(
    settings: &CallbackSettings,
    metrics: &Metrics,
    job: &CallbackJob,
    outcome: Delivery,
) -> Option<Duration> {
    match outcome {
        Delivery::NotWanted => None,
        Delivery::Delivered => {
            metrics.callback_sent();
            None
        }
        Delivery::Refused => {
            metrics.callback_failed();
            None
        }
        Delivery::Retry(why) => {
            let delay = usize::try_from(job.attempts - 1)
                .ok()
                .and_then(|i| settings.retry_delays.get(i).copied());
            match delay {
                Some(delay) => {
                    tracing::info!(
                        meeting_id = %job.meeting_id,
                        record_id = %job.record_id,
                        attempt = job.attempts,
                        "recording-ready callback will be retried in {delay:?}: {why}"
                    );
                    Some(delay)
                }
                None => {
                    tracing::warn!(
                        meeting_id = %job.meeting_id,
                        record_id = %job.record_id,
                        "giving up on the recording-ready callback after {} attempts: {why}",
                        job.attempts
                    );
                    metrics.callback_failed();
                    None
                }
            }
        }
    }
}

fn last_attempt_outcome(metrics: &Metrics, job: &CallbackJob, outcome: Delivery) {
    match outcome {
        Delivery::NotWanted => {}
        Delivery::Delivered => metrics.callback_sent(),
        Delivery::Refused => metrics.callback_failed(),
        Delivery::Retry(why) => {
            tracing::warn!(
                meeting_id = %job.meeting_id,
                record_id = %job.record_id,
                "recording-ready callback not sent before shutdown: {why}"
            );
            metrics.callback_failed();
        }
    }
}

impl Sender {
    async fn deliver(&self, job: &CallbackJob) -> Delivery {
        // The callback data is the one the recording's tenant left at create (with multitenancy).
        let tenant_id = job
            .tenant_id
            .as_deref()
            .filter(|id| !id.is_empty() && self.settings.multitenancy);
        let data = match self
            .store
            .get_callback_data(tenant_id, &job.meeting_id)
            .await
        {
            Ok(Some(data)) => data,
            Ok(None) => return Delivery::NotWanted,
            Err(e) => return Delivery::Retry(format!("cannot read the callback data: {e}")),
        };
        let Some(url) = data
            .recording_ready_url
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
        else {
            return Delivery::NotWanted;
        };
        let url = match url::Url::parse(&url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => {
                tracing::warn!(meeting_id = %job.meeting_id, "recording-ready URL is not an http(s) URL; not notifying");
                return Delivery::Refused;
            }
        };
        let secrets = match self.secrets_for(job).await {
            Ok(secrets) => secrets,
            Err(outcome) => return outcome,
        };
        if secrets.is_empty() {
            tracing::warn!(meeting_id = %job.meeting_id, "no secret to sign the recording-ready callback with");
            return Delivery::Refused;
        }

        let claims = Claims {
            meeting_id: &job.meeting_id,
            record_id: &job.record_id,
        };
        let mut passing = None;
        for secret in &secrets {
            let token = jwt::encode(&claims, secret.expose().as_bytes(), self.settings.algorithm);
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("signed_parameters", &token)
                .finish();
            let response = self
                .client
                .post(url.clone())
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(body)
                .send()
                .await;
            let response = match response {
                Ok(response) => response,
                Err(e) => {
                    let e = e.without_url();
                    tracing::warn!(meeting_id = %job.meeting_id, error.message = %e, "Recording notifier failed: {e}");
                    return Delivery::Retry(format!("request failed: {e}"));
                }
            };
            let status = response.status();
            let code = status.as_u16();
            if status.is_success() {
                tracing::info!(
                    "Recording notifier successful: {} (code {code})",
                    job.meeting_id
                );
                return Delivery::Delivered;
            }
            match code {
                410 => {
                    tracing::info!("Notified for deleted meeting: {}", job.meeting_id);
                    return Delivery::Delivered;
                }
                404 => {
                    tracing::info!(
                        "404 error when notifying for recording: {}, ignoring",
                        job.meeting_id
                    );
                    return Delivery::Delivered;
                }
                _ => {
                    let reason = status.canonical_reason().unwrap_or_default();
                    tracing::warn!(meeting_id = %job.meeting_id, "Callback HTTP request failed: {code} {reason} (code {code})");
                    if status.is_server_error() || code == 429 || code == 408 {
                        passing = Some(format!("the receiver answered {code}"));
                    }
                }
            }
        }
        match passing {
            Some(why) => Delivery::Retry(why),
            None => Delivery::Refused,
        }
    }

    /// The secrets to try: the tenant's with multitenancy and a `tenant-id`, else the LB secrets. (The original
    /// sends nothing with multitenancy and no `tenant-id`; such a recording predates multitenancy, and its
    /// receiver knows the LB secrets.)
    async fn secrets_for(&self, job: &CallbackJob) -> Result<Vec<Secret>, Delivery> {
        let tenant_id = job.tenant_id.as_deref().filter(|id| !id.is_empty());
        match tenant_id {
            Some(tenant_id) if self.settings.multitenancy => {
                match self.store.get_tenant(tenant_id).await {
                    Ok(tenant) => Ok(tenant.secrets),
                    Err(StoreError::NotFound(_)) => {
                        tracing::warn!(meeting_id = %job.meeting_id, tenant_id, "the recording's tenant no longer exists; not notifying");
                        Err(Delivery::Refused)
                    }
                    Err(e) => Err(Delivery::Retry(format!("cannot read the tenant: {e}"))),
                }
            }
            _ => Ok(self.settings.lb_secrets.clone()),
        }
    }
}

#[cfg(test)]
mod tests;
