//! The application's state: one set of cheap handles shared by every request and every
//! background task. `public` and `http` both depend on it, and on nothing of each other.

use std::{sync::Arc, time::Duration};

use crate::{clock::Clock, config::Settings, snapshot::Snapshots, store::Store};

pub struct AppState {
    pub store: Store,
    pub snapshots: Arc<Snapshots>,
    pub clock: Clock,
    pub settings: Arc<Settings>,
}

/// How long an admin write waits for the public side to show it before answering.
const SHOWN_WITHIN: Duration = Duration::from_secs(5);

impl AppState {
    /// Opens the store (applying migrations) and builds the first public snapshot.
    pub async fn open(settings: Settings, public_url: &str, clock: Clock) -> anyhow::Result<Self> {
        let store = Store::open(&settings.database_url, Some(public_url), clock.now()).await?;
        let snapshots = Arc::new(Snapshots::new(&settings)?);
        snapshots.rebuild(&store, clock.now()).await;
        Ok(AppState {
            store,
            snapshots,
            clock,
            settings: Arc::new(settings),
        })
    }

    /// Starts the tasks that follow the event log: the public snapshot.
    pub fn follow(&self) {
        self.snapshots.follow(
            self.store.clone(),
            self.clock.clone(),
            Duration::from_millis(self.settings.poll_interval_ms.max(50)),
        );
    }

    /// Waits until the public side shows the change whose last event is `seq`, so the
    /// next public request after an admin write sees it. Bounded: a write is never
    /// held up for long by a slow rebuild.
    pub async fn shown(&self, seq: Option<i64>) {
        if let Some(seq) = seq {
            let _ = tokio::time::timeout(SHOWN_WITHIN, self.snapshots.reached(seq)).await;
        }
    }
}
