//! The public side's in-memory picture: every page, document and feed rendered and
//! compressed once per change, then served to every reader. It follows the event log's
//! head (moved by this process's commits and by a cheap poll of the shared database)
//! and rebuilds when it moves or ages.

pub mod asset;
mod build;
mod lazy;
mod load;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

pub use asset::{Asset, Caching, Effort, Reuse};
pub use build::{FALLBACK_500, HISTORY_PAGE_SIZE, Snapshot};

use crate::{
    clock::Clock,
    config::Settings,
    domain::IncidentId,
    render::{
        fragments::Fragments,
        markdown,
        pages::{self, StaticLinks},
        templates::Renderer,
    },
    store::{self, Store, StoreError, events, incidents},
};

const CSS: &[u8] = include_bytes!("../../../web/herald.css");
const JS: &[u8] = include_bytes!("../../../web/herald.js");
/// The console's own style and script: the public pages never load them.
const CONSOLE_CSS: &[u8] = include_bytes!("../../../web/console.css");
const CONSOLE_JS: &[u8] = include_bytes!("../../../web/console.js");
const ICON: &[u8] = include_bytes!("../../../web/icon.svg");

/// The icon as a `data:` URI (allowed by the page's Content-Security-Policy), with the
/// few characters a URI cannot carry escaped.
fn icon_data_uri() -> String {
    let svg = String::from_utf8_lossy(ICON);
    let mut out = String::from("data:image/svg+xml,");
    for c in svg.trim().chars() {
        match c {
            '"' => out.push('\''),
            '#' => out.push_str("%23"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '%' => out.push_str("%25"),
            '\n' | '\r' => {}
            c => out.push(c),
        }
    }
    out
}
/// The same mark as a 32 px PNG in an ICO, for browsers and tools that ask for
/// `/favicon.ico` whatever the page says.
const FAVICON: &[u8] = include_bytes!("../../../web/favicon.ico");

/// Rebuild at least this often even when nothing changed: durations, "overdue" and the
/// uptime bars move with the clock.
const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

pub struct Snapshots {
    current: RwLock<Option<Arc<Snapshot>>>,
    /// The version of the newest snapshot built.
    built: watch::Sender<i64>,
    /// The version of the newest snapshot whose documents are all compressed.
    compressed: Arc<watch::Sender<i64>>,
    rebuilding: tokio::sync::Mutex<()>,
    renderer: Arc<Renderer>,
    statics: HashMap<String, Arc<Asset>>,
    links: Arc<StaticLinks>,
    markdown: Arc<markdown::Cache>,
    lazy: lazy::Lazy,
    /// The next rebuild reads and renders everything.
    from_scratch: std::sync::atomic::AtomicBool,
    /// Why the last rebuild failed, and since when they fail, while they do.
    failure: std::sync::Mutex<Option<Failure>>,
}

/// Rebuilds failing: the previous snapshot is served meanwhile, and they are retried on
/// every poll.
#[derive(Debug, Clone)]
pub struct Failure {
    pub since: std::time::Instant,
    pub error: String,
    pub attempts: u64,
}

fn fingerprint(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Snapshots {
    /// `page_url` is the page's address: images in updates may load from its origin.
    pub fn new(settings: &Settings, page_url: &str) -> anyhow::Result<Snapshots> {
        let renderer = Renderer::new(settings.templates_dir.as_deref())?;
        let mut statics = HashMap::new();
        for (path, content_type, bytes) in [
            ("/static/herald.css", "text/css; charset=utf-8", CSS),
            ("/static/herald.js", "text/javascript; charset=utf-8", JS),
            (
                "/static/console.css",
                "text/css; charset=utf-8",
                CONSOLE_CSS,
            ),
            (
                "/static/console.js",
                "text/javascript; charset=utf-8",
                CONSOLE_JS,
            ),
            ("/static/icon.svg", "image/svg+xml", ICON),
        ] {
            statics.insert(
                path.to_owned(),
                Arc::new(Asset::new(content_type, bytes, Caching::Immutable, false)),
            );
        }
        // Not fingerprinted (its address is fixed), so cached like a page.
        statics.insert(
            "/favicon.ico".to_owned(),
            Arc::new(Asset::new("image/x-icon", FAVICON, Caching::Live, false)),
        );
        let links = StaticLinks {
            css: format!("/static/herald.css?v={}", fingerprint(CSS)),
            js: format!("/static/herald.js?v={}", fingerprint(JS)),
            console_css: format!("/static/console.css?v={}", fingerprint(CONSOLE_CSS)),
            console_js: format!("/static/console.js?v={}", fingerprint(CONSOLE_JS)),
            // Inline: a page's one icon costs no request of its own.
            icon: icon_data_uri(),
        };
        Ok(Snapshots {
            current: RwLock::new(None),
            built: watch::channel(-1).0,
            compressed: Arc::new(watch::channel(-1).0),
            rebuilding: tokio::sync::Mutex::new(()),
            renderer: Arc::new(renderer),
            statics,
            links: Arc::new(links),
            markdown: Arc::new(markdown::Cache::new(markdown::Policy::new(
                page_url,
                &settings.image_origins()?,
            ))),
            lazy: lazy::Lazy::default(),
            from_scratch: std::sync::atomic::AtomicBool::new(false),
            failure: std::sync::Mutex::new(None),
        })
    }

    /// The templates, shared with mail and the pages rendered per request.
    pub fn renderer(&self) -> Arc<Renderer> {
        self.renderer.clone()
    }

    /// Rendered Markdown, shared with mail.
    pub fn markdown(&self) -> Arc<markdown::Cache> {
        self.markdown.clone()
    }

    /// A page rendered for one request (the subscription pages): `make` gets the frame
    /// of the current snapshot's page titled `title` at `path`.
    pub fn dynamic_page<T: serde::Serialize>(
        &self,
        template: &str,
        title: &str,
        path: &str,
        make: impl FnOnce(pages::Layout, &pages::Data) -> T,
    ) -> Option<String> {
        let snap = self.current()?;
        let layout = pages::layout(
            &snap.data,
            &self.links,
            Some(title),
            path,
            snap.data.page.updated_at,
        );
        let view = make(layout, &snap.data);
        match self.renderer.render(template, &view) {
            Ok(html) => Some(html),
            Err(e) => {
                tracing::error!(error = %e, template, "rendering failed");
                None
            }
        }
    }

    /// The fingerprinted addresses of the stylesheet, script and icon (under the base).
    pub fn static_links(&self) -> &StaticLinks {
        &self.links
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

    /// Rebuilds from scratch: every page and document read and rendered again, every
    /// page rendered on demand dropped (after the database was changed by hand).
    pub async fn rebuild_all(self: &Arc<Self>, store: &Store, now: DateTime<Utc>) {
        self.lazy.forget_all();
        self.from_scratch
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.rebuild(store, now).await;
    }

    /// Records a failed rebuild: logged (once per new error), reported by readiness, the
    /// previous snapshot kept. The follower retries on its next poll.
    fn failed(&self, error: String) {
        let mut f = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        let repeated = f.as_ref().is_some_and(|f| f.error == error);
        if !repeated {
            tracing::error!(%error, "public snapshot rebuild failed; serving the previous one");
        }
        let (since, attempts) = f
            .as_ref()
            .map_or((std::time::Instant::now(), 0), |f| (f.since, f.attempts));
        *f = Some(Failure {
            since,
            error,
            attempts: attempts + 1,
        });
    }

    /// The current failure, if rebuilds fail.
    pub fn failure(&self) -> Option<Failure> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    /// Waits until the snapshot with event `seq` is served compressed.
    pub async fn compressed(&self, seq: i64) {
        let mut rx = self.compressed.subscribe();
        let _ = rx.wait_for(|v| *v >= seq).await;
    }

    /// Rebuilds the snapshot from the database. On failure the previous snapshot stays
    /// (readers get slightly stale data rather than an error).
    #[tracing::instrument(skip_all, fields(page = %store.page_id(), seq))]
    pub async fn rebuild(self: &Arc<Self>, store: &Store, now: DateTime<Utc>) {
        let _one_at_a_time = self.rebuilding.lock().await;
        let started = std::time::Instant::now();
        let previous = self.current().filter(|_| {
            !self
                .from_scratch
                .swap(false, std::sync::atomic::Ordering::SeqCst)
        });
        let read = async {
            let changed = load::Changed::since(store, previous.as_ref().map(|p| p.version)).await?;
            self.invalidate(&changed);
            let prior = previous.as_ref().map(|p| &p.data);
            load::load(store, now, self.markdown.clone(), prior, &changed).await
        };
        use futures_util::FutureExt;
        let data = match std::panic::AssertUnwindSafe(read).catch_unwind().await {
            Ok(Ok(data)) => data,
            Ok(Err(e)) => {
                self.failed(format!("reading the page: {e}"));
                return;
            }
            Err(_) => {
                self.failed("reading the page panicked".to_owned());
                return;
            }
        };
        tracing::Span::current().record("seq", data.version);
        let loaded = started.elapsed();
        let renderer = self.renderer.clone();
        let links = self.links.clone();
        let built = tokio::task::spawn_blocking(move || {
            build::build(data, &renderer, &links, now, previous.as_deref())
        })
        .await;
        match built.map_err(|e| e.to_string()).and_then(|b| b) {
            Err(e) => self.failed(format!("building the page: {e}")),
            Ok(snap) => {
                let version = snap.version;
                let (lazy_incidents, lazy_history) = self.lazy.bytes();
                tracing::debug!(
                    version,
                    load_ms = loaded.as_secs_f64() * 1000.0,
                    build_ms = (started.elapsed() - loaded).as_secs_f64() * 1000.0,
                    assets = snap.assets.len(),
                    markdown_cached = self.markdown.len(),
                    lazy_incident_bytes = lazy_incidents,
                    lazy_history_bytes = lazy_history,
                    "public snapshot rebuilt"
                );
                // Compressed after it is served: a change shows at once, plain, and
                // compressed a few milliseconds later.
                let plain: Vec<Arc<Asset>> = snap
                    .assets
                    .values()
                    .filter(|a| !a.is_compressed())
                    .cloned()
                    .collect();
                if let Ok(mut g) = self.current.write() {
                    *g = Some(Arc::new(snap));
                }
                if let Ok(mut f) = self.failure.lock() {
                    *f = None;
                }
                self.built.send_modify(|v| *v = (*v).max(version));
                let compressed = self.compressed.clone();
                let current = Arc::downgrade(self);
                tokio::task::spawn_blocking(move || {
                    for a in plain {
                        // A document a newer snapshot already replaced is not worth it.
                        let served =
                            current
                                .upgrade()
                                .and_then(|s| s.current())
                                .is_some_and(|snap| {
                                    snap.version == version
                                        || snap.assets.values().any(|x| Arc::ptr_eq(x, &a))
                                });
                        if served {
                            a.compress(Effort::Often);
                        }
                    }
                    compressed.send_modify(|v| *v = (*v).max(version));
                });
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
            let mut reachable = true;
            loop {
                tokio::select! {
                    changed = head.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                    _ = tick.tick() => match events::latest_seq(store.db()).await {
                        Ok(latest) => {
                            if !reachable {
                                tracing::info!("the database answers again");
                                reachable = true;
                            }
                            store.announce(latest);
                        }
                        // Logged once per outage, not on every poll.
                        Err(e) if reachable => {
                            tracing::warn!(error = %e, "the event log cannot be read; serving the page as it was");
                            reachable = false;
                        }
                        Err(_) => {}
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

    /// Drops the pages rendered on demand that show what changed.
    fn invalidate(&self, changed: &load::Changed) {
        if changed.everything || changed.frame {
            self.lazy.forget_all();
            return;
        }
        // A past incident's page says how its components are now.
        if changed.statuses {
            self.lazy.forget_incidents();
        }
        if changed.created > 0 {
            self.lazy.forget_missing();
        }
        for id in &changed.incidents {
            self.lazy.forget_incident(id.as_str());
        }
    }

    /// The 404 page of `snap`.
    pub fn not_found(&self, snap: &Snapshot) -> Option<Arc<Asset>> {
        snap.assets.get("404").cloned()
    }

    /// Renders a page of `snap` off the request threads: `view` composes it (with the
    /// parts `snap` already rendered), then it is rendered and compressed.
    async fn render<V, F>(&self, snap: Arc<Snapshot>, template: &'static str, view: F) -> Arc<Asset>
    where
        V: serde::Serialize,
        F: FnOnce(&Snapshot, &StaticLinks, &Fragments<'_>) -> V + Send + 'static,
    {
        let (renderer, links) = (self.renderer.clone(), self.links.clone());
        tokio::task::spawn_blocking(move || {
            let parts = Fragments::new(&renderer, Some(&snap.parts));
            let v = view(&snap, &links, &parts);
            let a = build::html_asset(&Reuse::default(), &renderer, template, &v, StatusCode::OK);
            a.compress(Effort::Often);
            a
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, template, "rendering failed");
            Arc::new(Asset::error_page())
        })
    }

    /// An incident's page: from the snapshot, or rendered on first request and kept.
    /// `Ok(None)` when there is no such incident.
    pub async fn incident_page(
        &self,
        store: &Store,
        snap: &Arc<Snapshot>,
        id: &str,
    ) -> Result<Option<Arc<Asset>>, StoreError> {
        if let Some(a) = snap.assets.get(&format!("/incidents/{id}")) {
            return Ok(Some(a.clone()));
        }
        if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let ticket = match self.lazy.incident(id) {
            Ok(a) => return Ok(Some(a)),
            Err(t) => t,
        };
        if self.lazy.is_missing(id) {
            return Ok(None);
        }
        match incidents::get(store.db(), &IncidentId::from(id)).await {
            Ok(i) => {
                let a = self
                    .render(snap.clone(), "pages/incident", move |snap, links, _| {
                        pages::incident_view(&snap.data, links, &i)
                    })
                    .await;
                self.lazy.keep_incident(id, a.clone(), ticket);
                Ok(Some(a))
            }
            Err(StoreError::NotFound { .. }) => {
                self.lazy.keep_missing(id);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Page `page` of `/history`; `Ok(None)` past the last.
    pub async fn history_page(
        &self,
        store: &Store,
        snap: &Arc<Snapshot>,
        page: u64,
    ) -> Result<Option<Arc<Asset>>, StoreError> {
        if page == 1
            && let Some(a) = snap.assets.get("/history")
        {
            return Ok(Some(a.clone()));
        }
        let size = HISTORY_PAGE_SIZE;
        if page == 0 || page > snap.data.past_total().div_ceil(size).max(1) {
            return Ok(None);
        }
        let ticket = match self.lazy.history(page) {
            Ok(a) => return Ok(Some(a)),
            Err(t) => t,
        };
        let mut list = incidents::list(
            store.db(),
            store.page_id(),
            store::incidents::Filter::Past,
            None,
            size + 1,
            (page - 1) * size,
        )
        .await?;
        let more = list.len() as u64 > size;
        list.truncate(size as usize);
        let a = self
            .render(snap.clone(), "pages/history", move |snap, links, parts| {
                pages::history_view(&snap.data, links, &list, page, more, parts)
            })
            .await;
        self.lazy.keep_history(page, a.clone(), ticket);
        Ok(Some(a))
    }
}
