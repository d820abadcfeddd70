//! One consistent picture of the public side, built when the event log moves: every
//! document, page and feed rendered and compressed once, then served from memory.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use actix_web::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;

use super::asset::{Asset, Caching, Reuse};
use crate::domain::{Incident, PageStatus};
use crate::render::{
    ics,
    pages::{self, Data, StaticLinks},
    statuspage::{
        ComponentDoc, ComponentIndex, Flavor, IncidentDoc, PageDoc, incident_doc, page_doc,
    },
    templates::Renderer,
};
use crate::store::{
    Store, StoreError, components, events,
    incidents::{self, Filter},
    pages as page_store,
};

pub const HISTORY_PAGE_SIZE: u64 = 25;
const RECENT: u64 = 50;

pub struct Snapshot {
    pub version: i64,
    pub built_at: DateTime<Utc>,
    pub data: Data,
    pub assets: HashMap<String, Arc<Asset>>,
    /// Pages rendered on first request from this snapshot (old incidents, older history).
    pub lazy: Mutex<HashMap<String, Arc<Asset>>>,
}

/// Reads everything the public side shows.
pub async fn load(store: &Store, now: DateTime<Utc>) -> Result<Data, StoreError> {
    let db = store.db();
    let page_id = store.page_id();
    let version = events::latest_seq(db).await?;
    let page = page_store::get(db, page_id).await?;
    let ctx = crate::render::statuspage::PageCtx::new(&page);
    Ok(Data {
        components: components::list(db, page_id).await?,
        recent: incidents::list(db, page_id, Filter::All, None, RECENT * 2, 0).await?,
        incidents: incidents::list(db, page_id, Filter::Incidents, None, RECENT, 0).await?,
        maintenances: incidents::list(db, page_id, Filter::Maintenances, None, RECENT, 0).await?,
        unresolved: incidents::list(db, page_id, Filter::Unresolved, None, 100, 0).await?,
        upcoming: incidents::list(db, page_id, Filter::Scheduled, None, 100, 0).await?,
        active_maintenance: incidents::list(db, page_id, Filter::ActiveMaintenance, None, 100, 0)
            .await?,
        changes: components::changes_since(db, now - Duration::days(pages::UPTIME_DAYS + 1))
            .await?,
        page,
        ctx,
        now,
        version,
    })
}

#[derive(Serialize)]
struct Wrapped<'a, T: Serialize> {
    page: &'a PageDoc,
    #[serde(flatten)]
    body: T,
}

fn json_asset<T: Serialize>(reuse: &Reuse, page: &PageDoc, body: T) -> Arc<Asset> {
    let bytes = serde_json::to_vec(&Wrapped { page, body }).unwrap_or_default();
    reuse.asset(
        StatusCode::OK,
        "application/json; charset=utf-8",
        bytes,
        Caching::Live,
        true,
    )
}

pub fn html_asset(
    reuse: &Reuse,
    renderer: &Renderer,
    template: &str,
    view: &impl Serialize,
    status: StatusCode,
) -> Arc<Asset> {
    let (status, body) = match renderer.render(template, view) {
        Ok(html) => (status, html),
        Err(e) => {
            tracing::error!(error = %e, template, "rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, FALLBACK_500.to_owned())
        }
    };
    let caching = if status.is_success() {
        Caching::Live
    } else {
        Caching::NoStore
    };
    reuse.asset(status, "text/html; charset=utf-8", body, caching, false)
}

pub const FALLBACK_500: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Something went wrong</title></head><body><main><h1>Something went wrong</h1><p>The status page could not be shown. Please try again in a moment.</p></main></body></html>";

/// Renders every public document from `data`; documents whose bytes equal one in
/// `previous` keep that one (and its compressed forms).
pub fn build(
    data: Data,
    renderer: &Renderer,
    links: &StaticLinks,
    built_at: DateTime<Utc>,
    previous: Option<&Snapshot>,
) -> Snapshot {
    let reuse = Reuse::from(previous.into_iter().flat_map(|p| p.assets.values()));
    let reuse = &reuse;
    let mut assets: HashMap<String, Arc<Asset>> = HashMap::new();
    let ctx = &data.ctx;
    let page = page_doc(&data.page, ctx);
    let index = ComponentIndex::new(&data.components);
    let docs = |list: &[Incident]| -> Vec<IncidentDoc> {
        list.iter()
            .map(|i| incident_doc(i, &index, ctx, Flavor::Public))
            .collect()
    };
    let status: PageStatus = data.status();
    let components: Vec<ComponentDoc> = index.docs(ctx, Flavor::Public);
    let unresolved = docs(&data.unresolved);
    let incidents = docs(&data.incidents);
    let maintenances = docs(&data.maintenances);
    let upcoming = docs(&data.upcoming);
    let active = docs(&data.active_maintenance);
    let mut current_maint = active.clone();
    current_maint.extend(upcoming.iter().cloned());

    assets.insert(
        "/api/v2/summary.json".into(),
        json_asset(
            reuse,
            &page,
            json!({
                "components": components,
                "incidents": unresolved,
                "scheduled_maintenances": current_maint,
                "status": status,
            }),
        ),
    );
    assets.insert(
        "/api/v2/status.json".into(),
        json_asset(reuse, &page, json!({"status": status})),
    );
    assets.insert(
        "/api/v2/components.json".into(),
        json_asset(reuse, &page, json!({"components": components})),
    );
    assets.insert(
        "/api/v2/incidents.json".into(),
        json_asset(reuse, &page, json!({"incidents": incidents})),
    );
    assets.insert(
        "/api/v2/incidents/unresolved.json".into(),
        json_asset(reuse, &page, json!({"incidents": unresolved})),
    );
    assets.insert(
        "/api/v2/scheduled-maintenances.json".into(),
        json_asset(
            reuse,
            &page,
            json!({"scheduled_maintenances": maintenances}),
        ),
    );
    assets.insert(
        "/api/v2/scheduled-maintenances/upcoming.json".into(),
        json_asset(reuse, &page, json!({"scheduled_maintenances": upcoming})),
    );
    assets.insert(
        "/api/v2/scheduled-maintenances/active.json".into(),
        json_asset(reuse, &page, json!({"scheduled_maintenances": active})),
    );
    assets.insert(
        "/live.json".into(),
        reuse.asset(
            StatusCode::OK,
            "application/json; charset=utf-8",
            json!({"version": data.version, "status": status}).to_string(),
            Caching::Live,
            true,
        ),
    );

    assets.insert(
        "/".into(),
        html_asset(
            reuse,
            renderer,
            "pages/index",
            &pages::index_view(&data, links),
            StatusCode::OK,
        ),
    );
    let first_history: Vec<Incident> = data
        .recent
        .iter()
        .take(HISTORY_PAGE_SIZE as usize)
        .cloned()
        .collect();
    let more = data.recent.len() > HISTORY_PAGE_SIZE as usize;
    assets.insert(
        "/history".into(),
        html_asset(
            reuse,
            renderer,
            "pages/history",
            &pages::history_view(&data, links, &first_history, 1, more),
            StatusCode::OK,
        ),
    );
    let fresh = data.now - Duration::days(14);
    for i in data
        .recent
        .iter()
        .filter(|i| i.status.is_open() || i.updated_at > fresh)
    {
        assets.insert(
            format!("/incidents/{}", i.id),
            html_asset(
                reuse,
                renderer,
                "pages/incident",
                &pages::incident_view(&data, links, i),
                StatusCode::OK,
            ),
        );
    }
    let feed = pages::feed_view(&data);
    for (path, template, ct) in [
        (
            "/history.atom",
            "feeds/atom",
            "application/atom+xml; charset=utf-8",
        ),
        (
            "/history.rss",
            "feeds/rss",
            "application/rss+xml; charset=utf-8",
        ),
    ] {
        match renderer.render(template, &feed) {
            Ok(xml) => {
                assets.insert(
                    path.into(),
                    reuse.asset(StatusCode::OK, ct, xml, Caching::Live, true),
                );
            }
            Err(e) => tracing::error!(error = %e, template, "feed rendering failed"),
        }
    }
    let calendar = ics::calendar(&data);
    assets.insert(
        "/maintenance.ics".into(),
        reuse.asset(
            StatusCode::OK,
            "text/calendar; charset=utf-8",
            calendar,
            Caching::Live,
            true,
        ),
    );
    assets.insert(
        "404".into(),
        html_asset(
            reuse,
            renderer,
            "pages/error",
            &pages::error_view(&data, links, 404, "Page not found", "There is nothing at this address. The incident may have been removed, or the link mistyped."),
            StatusCode::NOT_FOUND,
        ),
    );
    Snapshot {
        version: data.version,
        built_at,
        data,
        assets,
        lazy: Mutex::new(HashMap::new()),
    }
}
