//! The public side: status page, Statuspage public API v2, feeds and static files, all
//! served from an in-memory [`snapshot::Snapshot`] rebuilt when the event log moves,
//! never per request.

mod asset;
mod ics;
pub mod snapshot;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use chrono::Utc;
use sha2::{Digest, Sha256};

pub use asset::{Asset, Caching, Reuse};
use snapshot::Snapshot;

use crate::{
    config::Settings,
    http::AppState,
    render::{
        pages::{self, StaticLinks},
        templates::Renderer,
    },
    store::{Store, events, incidents},
};

const CSS: &[u8] = include_bytes!("../../../web/herald.css");
const JS: &[u8] = include_bytes!("../../../web/herald.js");

/// Rebuild at least this often even when nothing changed: durations, "overdue" and the
/// uptime bars move with the clock.
const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

pub struct Public {
    current: RwLock<Option<Arc<Snapshot>>>,
    rebuilding: tokio::sync::Mutex<()>,
    renderer: Renderer,
    statics: HashMap<String, Arc<Asset>>,
    links: StaticLinks,
}

fn fingerprint(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Public {
    pub fn new(settings: &Settings) -> anyhow::Result<Public> {
        let renderer = Renderer::new(settings.templates_dir.as_deref())?;
        let mut statics = HashMap::new();
        statics.insert(
            "/static/herald.css".to_owned(),
            Arc::new(Asset::new(
                "text/css; charset=utf-8",
                CSS,
                Caching::Immutable,
                false,
            )),
        );
        statics.insert(
            "/static/herald.js".to_owned(),
            Arc::new(Asset::new(
                "text/javascript; charset=utf-8",
                JS,
                Caching::Immutable,
                false,
            )),
        );
        let links = StaticLinks {
            css: format!("/static/herald.css?v={}", fingerprint(CSS)),
            js: format!("/static/herald.js?v={}", fingerprint(JS)),
        };
        Ok(Public {
            current: RwLock::new(None),
            rebuilding: tokio::sync::Mutex::new(()),
            renderer,
            statics,
            links,
        })
    }

    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.read().ok().and_then(|g| g.clone())
    }

    /// Rebuilds unless the current snapshot already includes event `seq`. Writers that
    /// commit while a rebuild runs share the next one instead of queueing one each.
    pub async fn refresh_to(&self, store: &Store, seq: i64) {
        let _one_at_a_time = self.rebuilding.lock().await;
        if self.current().is_some_and(|s| s.version >= seq) {
            return;
        }
        self.rebuild(store).await;
    }

    /// Rebuilds the snapshot from the database. On failure the previous snapshot stays
    /// (readers get slightly stale data rather than an error).
    pub async fn refresh(&self, store: &Store) {
        let _one_at_a_time = self.rebuilding.lock().await;
        self.rebuild(store).await;
    }

    async fn rebuild(&self, store: &Store) {
        let now = Utc::now();
        let started = std::time::Instant::now();
        match snapshot::load(store, now).await {
            Ok(data) => {
                let loaded = std::time::Instant::now();
                let previous = self.current();
                let snap = Arc::new(snapshot::build(
                    data,
                    &self.renderer,
                    &self.links,
                    now,
                    previous.as_deref(),
                ));
                tracing::debug!(
                    version = snap.version,
                    load_ms = (loaded - started).as_millis() as u64,
                    build_ms = loaded.elapsed().as_millis() as u64,
                    assets = snap.assets.len(),
                    "public snapshot rebuilt"
                );
                if let Ok(mut g) = self.current.write() {
                    *g = Some(snap);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "public snapshot rebuild failed; serving the previous one")
            }
        }
    }

    /// Watches the event log for changes made elsewhere (other instances sharing the
    /// database) with a cheap version poll, and rebuilds when it moved or aged.
    pub fn watch(self: &Arc<Self>, store: Store, poll_ms: u64) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(poll_ms.max(50)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(public) = me.upgrade() else { break };
                let latest = match events::latest_seq(store.db()).await {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(error = %e, "event log poll failed");
                        continue;
                    }
                };
                let stale = public
                    .current()
                    .is_none_or(|s| s.version != latest || Utc::now() - s.built_at > MAX_AGE);
                if stale {
                    public.refresh(&store).await;
                }
            }
        });
    }

    fn not_found(&self, snap: &Snapshot) -> HttpResponse {
        match snap.assets.get("404") {
            Some(a) => HttpResponse::NotFound()
                .content_type(a.content_type)
                .body(a.identity.clone()),
            None => HttpResponse::NotFound().finish(),
        }
    }

    fn lazy(&self, snap: &Snapshot, key: &str) -> Option<Arc<Asset>> {
        snap.lazy.lock().ok().and_then(|m| m.get(key).cloned())
    }

    fn remember(&self, snap: &Snapshot, key: String, asset: Arc<Asset>) {
        if let Ok(mut m) = snap.lazy.lock()
            && m.len() < 10_000
        {
            m.insert(key, asset);
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/incidents/{id}", web::route().to(incident_page))
        .route("/history", web::route().to(history_page))
        .default_service(web::route().to(serve));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match (state.store.ping().await, state.public.current()) {
        (Ok(()), Some(_)) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        (Err(e), _) => {
            tracing::warn!(error = %e, "not ready: database");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unreachable")
        }
        (_, None) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("starting"),
    }
}

fn only_get(req: &HttpRequest) -> Option<HttpResponse> {
    use actix_web::http::Method;
    (req.method() != Method::GET && req.method() != Method::HEAD).then(|| {
        HttpResponse::MethodNotAllowed()
            .insert_header(("Allow", "GET, HEAD"))
            .content_type("text/plain")
            .body("The status page is read-only.")
    })
}

fn starting() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", "1"))
        .content_type("text/html; charset=utf-8")
        .body(snapshot::FALLBACK_500)
}

/// Every public path that is a fixed document.
async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(r) = only_get(&req) {
        return r;
    }
    let public = &state.public;
    if let Some(a) = public.statics.get(req.path()) {
        return a.respond(&req);
    }
    let Some(snap) = public.current() else {
        return starting();
    };
    let path = req.path();
    let key = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    match snap.assets.get(key) {
        Some(a) if key != "404" => a.respond(&req),
        _ => public.not_found(&snap),
    }
}

async fn incident_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    if let Some(r) = only_get(&req) {
        return r;
    }
    let public = &state.public;
    let Some(snap) = public.current() else {
        return starting();
    };
    let key = format!("/incidents/{id}");
    if let Some(a) = snap
        .assets
        .get(&key)
        .cloned()
        .or_else(|| public.lazy(&snap, &key))
    {
        return a.respond(&req);
    }
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return public.not_found(&snap);
    }
    match incidents::get(state.store.db(), &id).await {
        Ok(i) => {
            let view = pages::incident_view(&snap.data, &public.links, &i);
            let a = snapshot::html_asset(
                &Reuse::default(),
                &public.renderer,
                "pages/incident",
                &view,
                StatusCode::OK,
            );
            public.remember(&snap, key, a.clone());
            a.respond(&req)
        }
        Err(crate::store::StoreError::NotFound { .. }) => public.not_found(&snap),
        Err(e) => {
            tracing::error!(error = %e, "incident page");
            starting()
        }
    }
}

async fn history_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(r) = only_get(&req) {
        return r;
    }
    let public = &state.public;
    let Some(snap) = public.current() else {
        return starting();
    };
    let page = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, 10_000);
    if page == 1
        && let Some(a) = snap.assets.get("/history")
    {
        return a.respond(&req);
    }
    let key = format!("/history?page={page}");
    if let Some(a) = public.lazy(&snap, &key) {
        return a.respond(&req);
    }
    let size = snapshot::HISTORY_PAGE_SIZE;
    let db = state.store.db();
    match incidents::list(
        db,
        state.store.page_id(),
        incidents::Filter::All,
        None,
        size + 1,
        (page - 1) * size,
    )
    .await
    {
        Ok(mut list) => {
            let more = list.len() as u64 > size;
            list.truncate(size as usize);
            let view = pages::history_view(&snap.data, &public.links, &list, page, more);
            let a = snapshot::html_asset(
                &Reuse::default(),
                &public.renderer,
                "pages/history",
                &view,
                StatusCode::OK,
            );
            public.remember(&snap, key, a.clone());
            a.respond(&req)
        }
        Err(e) => {
            tracing::error!(error = %e, "history page");
            starting()
        }
    }
}
