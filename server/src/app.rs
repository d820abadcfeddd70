//! The application's state: one set of cheap handles shared by every request and every
//! background task. `public` and `http` both depend on it, and on nothing of each other.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use crate::{
    clock::Clock, config::Settings, metrics::Metrics, notify::Notifier,
    render::statuspage::base_path, snapshot::Snapshots, store::Store,
};

pub struct AppState {
    pub store: Store,
    pub snapshots: Arc<Snapshots>,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    /// The path every route lives under (`/status`), from the page's public URL; empty
    /// at the root.
    pub base: String,
    pub metrics: Arc<Metrics>,
    pub notifier: Arc<Notifier>,
    /// The public subscription form's pace, per client and per address.
    pub subscribe_limits: crate::public::subscribe::Limits,
    /// Failed authentications to the admin API, per client.
    pub auth_throttle: crate::http::auth::Throttle,
    /// Console sign-in, welcome and reset attempts, per client and per address.
    pub console_limits: crate::console::auth::Limits,
    draining: AtomicBool,
}

/// The delivery workers count as stuck after this long without going round their loop.
pub const STUCK_AFTER_SECS: i64 = 300;

/// How long an admin write waits for the public side to show it before answering.
const SHOWN_WITHIN: Duration = Duration::from_secs(5);

/// How long a readiness probe waits for the database.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

impl AppState {
    /// Builds the first public snapshot of the page in `store`.
    pub async fn open(settings: Settings, store: Store, clock: Clock) -> anyhow::Result<Self> {
        let page = crate::store::pages::get(store.db(), store.page_id()).await?;
        let base = base_path(&page.url);
        let snapshots = Arc::new(Snapshots::new(&settings, &page.url)?);
        snapshots.rebuild(&store, clock.now()).await;
        let metrics = Arc::new(Metrics::new());
        let notifier = Arc::new(
            Notifier::new(
                &settings,
                store.clone(),
                clock.clone(),
                snapshots.renderer(),
                snapshots.markdown(),
                metrics.clone(),
            )
            .await?,
        );
        Ok(AppState {
            auth_throttle: crate::http::auth::Throttle::new(
                clock.clone(),
                settings.auth_failure_limit,
            ),
            console_limits: crate::console::auth::Limits::new(clock.clone()),
            store,
            snapshots,
            clock,
            settings: Arc::new(settings),
            base,
            metrics,
            notifier,
            subscribe_limits: crate::public::subscribe::Limits::new(),
            draining: AtomicBool::new(false),
        })
    }

    /// Starts the tasks that follow the event log: the public snapshot and the delivery
    /// workers.
    pub async fn follow(&self) {
        self.snapshots.follow(
            self.store.clone(),
            self.clock.clone(),
            Duration::from_millis(self.settings.poll_interval_ms.max(50)),
        );
        self.notifier.start().await;
    }

    /// Whether the delivery workers stopped going round their loop.
    pub fn delivery_stuck(&self) -> bool {
        self.notifier.stalled_for() > STUCK_AFTER_SECS
    }

    /// Waits until the public side shows the change whose last event is `seq`, so the
    /// next public request after an admin write sees it. Bounded: a write is never
    /// held up for long by a slow rebuild.
    pub async fn shown(&self, seq: Option<i64>) {
        if let Some(seq) = seq {
            let _ = tokio::time::timeout(SHOWN_WITHIN, self.snapshots.reached(seq)).await;
        }
    }

    /// From now on readiness fails, so load balancers stop sending new requests while
    /// the ones in flight finish.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.notifier.halt();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Whether the database answers within [`PROBE_TIMEOUT`].
    pub async fn database_reachable(&self) -> bool {
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, self.store.ping()).await,
            Ok(Ok(()))
        )
    }
}
