//! The public side's in-memory picture: every page, document and feed rendered and
//! compressed once per change, then served to every reader. It follows the event log's
//! head (moved by this process's commits and by a cheap poll of the shared database)
//! and rebuilds when it moves or ages.

pub mod asset;
mod build;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

pub use asset::{Asset, Caching, Reuse};
pub use build::{FALLBACK_500, HISTORY_PAGE_SIZE, Snapshot};

use crate::{
    clock::Clock,
    config::Settings,
    domain::IncidentId,
    render::{
        pages::{self, StaticLinks},
        templates::Renderer,
    },
    store::{self, Store, StoreError, events, incidents},
};

const CSS: &[u8] = include_bytes!("../../../web/herald.css");
const JS: &[u8] = include_bytes!("../../../web/herald.js");

/// Rebuild at least this often even when nothing changed: durations, "overdue" and the
/// uptime bars move with the clock.
const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// How many pages rendered on demand one snapshot keeps.
const LAZY_PAGES: usize = 10_000;

pub struct Snapshots {
    current: RwLock<Option<Arc<Snapshot>>>,
    /// The version of the newest snapshot built.
    built: watch::Sender<i64>,
    rebuilding: tokio::sync::Mutex<()>,
    renderer: Arc<Renderer>,
    statics: HashMap<String, Arc<Asset>>,
    links: Arc<StaticLinks>,
}

fn fingerprint(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Snapshots {
    pub fn new(settings: &Settings) -> anyhow::Result<Snapshots> {
        let renderer = Renderer::new(settings.templates_dir.as_deref())?;
        let mut statics = HashMap::new();
        for (path, content_type, bytes) in [
            ("/static/herald.css", "text/css; charset=utf-8", CSS),
            ("/static/herald.js", "text/javascript; charset=utf-8", JS),
        ] {
            statics.insert(
                path.to_owned(),
                Arc::new(Asset::new(content_type, bytes, Caching::Immutable, false)),
            );
        }
        let links = StaticLinks {
            css: format!("/static/herald.css?v={}", fingerprint(CSS)),
            js: format!("/static/herald.js?v={}", fingerprint(JS)),
        };
        Ok(Snapshots {
            current: RwLock::new(None),
            built: watch::channel(-1).0,
            rebuilding: tokio::sync::Mutex::new(()),
            renderer: Arc::new(renderer),
            statics,
            links: Arc::new(links),
        })
    }

    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    /// A fingerprinted static file (`/static/herald.css`).
    pub fn static_asset(&self, path: &str) -> Option<&Arc<Asset>> {
        self.statics.get(path)
    }

    /// Waits until a snapshot that includes event `seq` is being served.
    pub async fn reached(&self, seq: i64) {
        let mut rx = self.built.subscribe();
        let _ = rx.wait_for(|v| *v >= seq).await;
    }

    /// Rebuilds the snapshot from the database. On failure the previous snapshot stays
    /// (readers get slightly stale data rather than an error).
    #[tracing::instrument(skip_all, fields(page = %store.page_id(), seq))]
    pub async fn rebuild(&self, store: &Store, now: DateTime<Utc>) {
        let _one_at_a_time = self.rebuilding.lock().await;
        let started = std::time::Instant::now();
        let data = match build::load(store, now).await {
            Ok(data) => data,
            Err(e) => {
                tracing::error!(error = %e, "public snapshot rebuild failed; serving the previous one");
                return;
            }
        };
        tracing::Span::current().record("seq", data.version);
        let loaded = started.elapsed();
        let previous = self.current();
        let renderer = self.renderer.clone();
        let links = self.links.clone();
        let built = tokio::task::spawn_blocking(move || {
            build::build(data, &renderer, &links, now, previous.as_deref())
        })
        .await;
        match built {
            Ok(snap) => {
                let version = snap.version;
                tracing::debug!(
                    version,
                    load_ms = loaded.as_millis() as u64,
                    build_ms = (started.elapsed() - loaded).as_millis() as u64,
                    assets = snap.assets.len(),
                    "public snapshot rebuilt"
                );
                if let Ok(mut g) = self.current.write() {
                    *g = Some(Arc::new(snap));
                }
                self.built.send_modify(|v| *v = (*v).max(version));
            }
            Err(e) => {
                tracing::error!(error = %e, "public snapshot build failed; serving the previous one")
            }
        }
    }

    /// Follows the event log: rebuilds when this process commits, when a poll of the
    /// shared database finds other instances' commits, and when the snapshot ages.
    pub fn follow(self: &Arc<Self>, store: Store, clock: Clock, poll: Duration) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut head = store.head();
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    changed = head.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                    _ = tick.tick() => match events::latest_seq(store.db()).await {
                        Ok(latest) => store.announce(latest),
                        Err(e) => tracing::warn!(error = %e, "event log poll failed"),
                    },
                }
                let Some(me) = me.upgrade() else { break };
                let latest = *head.borrow_and_update();
                let now = clock.now();
                let stale = me
                    .current()
                    .is_none_or(|s| s.version < latest || now - s.built_at > MAX_AGE);
                if stale {
                    me.rebuild(&store, now).await;
                }
            }
        });
    }

    /// The 404 page of `snap`.
    pub fn not_found(&self, snap: &Snapshot) -> Option<Arc<Asset>> {
        snap.assets.get("404").cloned()
    }

    fn lazy(&self, snap: &Snapshot, key: &str) -> Option<Arc<Asset>> {
        snap.lazy.lock().ok().and_then(|m| m.get(key).cloned())
    }

    fn remember(&self, snap: &Snapshot, key: String, asset: Arc<Asset>) {
        if let Ok(mut m) = snap.lazy.lock()
            && m.len() < LAZY_PAGES
        {
            m.insert(key, asset);
        }
    }

    /// An incident's page: from the snapshot, or rendered on first request and kept with
    /// it. `Ok(None)` when there is no such incident.
    pub async fn incident_page(
        &self,
        store: &Store,
        snap: &Snapshot,
        id: &str,
    ) -> Result<Option<Arc<Asset>>, StoreError> {
        let key = format!("/incidents/{id}");
        if let Some(a) = snap
            .assets
            .get(&key)
            .cloned()
            .or_else(|| self.lazy(snap, &key))
        {
            return Ok(Some(a));
        }
        if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        match incidents::get(store.db(), &IncidentId::from(id)).await {
            Ok(i) => {
                let view = pages::incident_view(&snap.data, &self.links, &i);
                let a = build::html_asset(
                    &Reuse::default(),
                    &self.renderer,
                    "pages/incident",
                    &view,
                    StatusCode::OK,
                );
                self.remember(snap, key, a.clone());
                Ok(Some(a))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Page `page` of `/history`.
    pub async fn history_page(
        &self,
        store: &Store,
        snap: &Snapshot,
        page: u64,
    ) -> Result<Arc<Asset>, StoreError> {
        if page == 1
            && let Some(a) = snap.assets.get("/history")
        {
            return Ok(a.clone());
        }
        let key = format!("/history?page={page}");
        if let Some(a) = self.lazy(snap, &key) {
            return Ok(a);
        }
        let size = HISTORY_PAGE_SIZE;
        let mut list = incidents::list(
            store.db(),
            store.page_id(),
            store::incidents::Filter::All,
            None,
            size + 1,
            (page - 1) * size,
        )
        .await?;
        let more = list.len() as u64 > size;
        list.truncate(size as usize);
        let view = pages::history_view(&snap.data, &self.links, &list, page, more);
        let a = build::html_asset(
            &Reuse::default(),
            &self.renderer,
            "pages/history",
            &view,
            StatusCode::OK,
        );
        self.remember(snap, key, a.clone());
        Ok(a)
    }
}
