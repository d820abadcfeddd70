//! `/metrics` in the Prometheus text format, every name prefixed `herald_`: HTTP requests
//! and their durations, the delivery machinery (outbox depth, the age of the oldest
//! pending delivery, deliveries by channel and result, retries, dead letters, quarantined
//! subscribers, paused webhook endpoints, the workers' heartbeat; webhook and chat
//! deliveries are counted under their channel) and the process (memory, CPU, file descriptors).

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::store::{Store, deliveries, endpoints, outbox, subscribers};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub deliveries: IntCounterVec,
    pub retries: IntCounterVec,
    outbox_depth: IntGauge,
    oldest_pending: Gauge,
    dead_letters: IntGauge,
    failed: IntGauge,
    quarantined: IntGauge,
    overdue: IntGauge,
    endpoints_paused: IntGauge,
    /// Unix time of the delivery workers' last pass.
    pub heartbeat: IntGauge,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    match r {
        Ok(v) => v,
        // The names and labels below are constants checked by the tests.
        Err(e) => panic!("metric definition: {e}"),
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = must(Registry::new_custom(Some("herald".into()), None));
        let http_requests = must(IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by method and status",
            ),
            &["method", "status"],
        ));
        let http_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method"],
        ));
        let deliveries = must(IntCounterVec::new(
            Opts::new(
                "deliveries_total",
                "Delivery attempts by channel and result (delivered, retrying, failed, dead, cancelled)",
            ),
            &["channel", "result"],
        ));
        let retries = must(IntCounterVec::new(
            Opts::new(
                "delivery_retries_total",
                "Deliveries scheduled for another try",
            ),
            &["channel"],
        ));
        let outbox_depth = must(IntGauge::new(
            "outbox_depth",
            "Notifications not yet delivered: outbox rows to expand plus deliveries due, retrying or in flight",
        ));
        let oldest_pending = must(Gauge::new(
            "delivery_oldest_pending_seconds",
            "Age of the oldest delivery not yet done",
        ));
        let dead_letters = must(IntGauge::new(
            "dead_letters",
            "Deliveries given up after the retry budget",
        ));
        let failed = must(IntGauge::new(
            "deliveries_failed",
            "Deliveries refused for good by the recipient's server",
        ));
        let quarantined = must(IntGauge::new(
            "quarantined_subscribers",
            "Subscribers set aside after repeated permanent failures",
        ));
        let overdue = must(IntGauge::new(
            "overdue_promises",
            "Open incidents whose promised next update is late",
        ));
        let endpoints_paused = must(IntGauge::new(
            "webhook_endpoints_paused",
            "Webhook and chat endpoints paused after failing for days",
        ));
        let heartbeat = must(IntGauge::new(
            "delivery_workers_heartbeat_timestamp_seconds",
            "When the delivery workers last went round their loop",
        ));
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(deliveries.clone()),
            Box::new(retries.clone()),
            Box::new(outbox_depth.clone()),
            Box::new(oldest_pending.clone()),
            Box::new(dead_letters.clone()),
            Box::new(failed.clone()),
            Box::new(quarantined.clone()),
            Box::new(overdue.clone()),
            Box::new(endpoints_paused.clone()),
            Box::new(heartbeat.clone()),
        ] {
            must(registry.register(c));
        }
        #[cfg(target_os = "linux")]
        {
            let p = prometheus::process_collector::ProcessCollector::new(
                std::process::id() as i32,
                "herald",
            );
            must(registry.register(Box::new(p)));
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            deliveries,
            retries,
            outbox_depth,
            oldest_pending,
            dead_letters,
            failed,
            quarantined,
            overdue,
            endpoints_paused,
            heartbeat,
        }
    }

    /// Reads the figures that live in the database.
    pub async fn refresh(&self, store: &Store, now: chrono::DateTime<chrono::Utc>) {
        let db = store.db();
        if let (Ok(d), Ok((rows, _)), Ok(q)) = (
            deliveries::depth(db).await,
            outbox::pending(db).await,
            subscribers::quarantined(db).await,
        ) {
            self.outbox_depth
                .set(i64::try_from(d.undelivered + rows).unwrap_or(i64::MAX));
            #[allow(clippy::cast_precision_loss)]
            self.oldest_pending.set(
                d.oldest_due
                    .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0),
            );
            self.dead_letters
                .set(i64::try_from(d.dead).unwrap_or(i64::MAX));
            self.failed.set(i64::try_from(d.failed).unwrap_or(i64::MAX));
            self.quarantined.set(i64::try_from(q).unwrap_or(i64::MAX));
        }
        if let Ok(n) = crate::store::incidents::overdue_count(db, store.page_id(), now).await {
            self.overdue.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Ok(p) = endpoints::paused(db).await {
            self.endpoints_paused
                .set(i64::try_from(p).unwrap_or(i64::MAX));
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "encoding metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
