//! One consistent picture of the public side, built when the event log moves: the
//! documents, the home and first history page, the feeds and the pages of incidents
//! still going on, each rendered and compressed once, then served from memory. A build
//! keeps what the previous one made when its inputs did not change: a document is
//! rendered again only when something it shows changed (or, for what depends on the
//! clock, when the minute did), and compressed again only when its bytes changed.

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    sync::Arc,
};

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::asset::{Asset, Caching, Reuse};
use crate::domain::{Incident, PageStatus};
use crate::render::{
    fragments::{self, Fragments},
    ics,
    pages::{self, Data, StaticLinks},
    statuspage::{
        ComponentDoc, ComponentIndex, Flavor, IncidentDoc, PageDoc, incident_doc, page_doc,
    },
    templates::Renderer,
};
use crate::store::incidents::Filter;
pub const HISTORY_PAGE_SIZE: u64 = 25;

pub struct Snapshot {
    pub version: i64,
    pub built_at: DateTime<Utc>,
    pub data: Data,
    pub assets: HashMap<String, Arc<Asset>>,
    /// What each page was rendered from (see [`Stamp`]).
    stamps: HashMap<String, u64>,
    /// Parts of pages this build rendered or reused, and those with the previous
    /// build's: what the next build may reuse (two builds' worth, no more).
    parts_used: fragments::Kept,
    pub parts: fragments::Kept,
    /// Documents that could not be rendered (and are served as error pages).
    pub problems: Vec<String>,
}

/// A digest of what a page shows: the same stamp, the same page.
#[derive(Default)]
struct Stamp(std::collections::hash_map::DefaultHasher);

impl Stamp {
    fn with(mut self, v: impl Hash) -> Self {
        v.hash(&mut self.0);
        self
    }

    fn done(self) -> u64 {
        self.0.finish()
    }
}

/// What every page's frame shows: the page's settings and the component names.
fn frame_stamp(data: &Data) -> Stamp {
    let mut s = Stamp::default().with((
        &data.page.name,
        &data.page.url,
        &data.page.time_zone,
        data.ctx.base.as_str(),
    ));
    for c in &data.components {
        s = s.with((
            c.id.as_str(),
            &c.name,
            c.group_id.as_ref().map(|g| g.as_str()),
        ));
    }
    s
}

/// A Statuspage v2 document: the page, then one or two lists (or the status).
#[derive(Serialize)]
struct Doc<'a> {
    page: &'a PageDoc,
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<&'a [ComponentDoc]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    incidents: Option<&'a [IncidentDoc]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_maintenances: Option<&'a [&'a IncidentDoc]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a PageStatus>,
}

impl<'a> Doc<'a> {
    fn of(page: &'a PageDoc) -> Self {
        Doc {
            page,
            components: None,
            incidents: None,
            scheduled_maintenances: None,
            status: None,
        }
    }
}

fn json_asset(reuse: &Reuse, doc: &Doc<'_>) -> Arc<Asset> {
    let bytes = serde_json::to_vec(doc).unwrap_or_default();
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

/// What one half of a build made: documents by path, the stamps of pages, and what
/// could not be made.
#[derive(Default)]
struct Made {
    assets: Vec<(String, Arc<Asset>)>,
    stamps: Vec<(String, u64)>,
    problems: Vec<String>,
}

/// Runs `render`; a panic (a bug, a row no check foresaw) becomes an error page for
/// this one document, and a problem reported, instead of a build that fails.
fn guarded(
    problems: &mut Vec<String>,
    path: &str,
    render: impl FnOnce() -> Arc<Asset>,
) -> Arc<Asset> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(render)) {
        Ok(a) => a,
        Err(e) => {
            let what = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            tracing::error!(path, panic = %what, "a public document could not be rendered");
            problems.push(format!("{path}: {what}"));
            Arc::new(Asset::error_page())
        }
    }
}

/// What a build shares between its halves.
struct Inputs<'a> {
    data: &'a Data,
    renderer: &'a Renderer,
    links: &'a StaticLinks,
    previous: Option<&'a Snapshot>,
    reuse: &'a Reuse,
    /// The page's frame (see [`frame_stamp`]).
    frame: u64,
    /// The clock, to the minute: what shows durations changes with it.
    minute: i64,
}

impl Made {
    /// Renders the page at `path` unless the previous build made it from the same
    /// stamp.
    fn page(
        &mut self,
        at: &Inputs<'_>,
        path: String,
        stamp: u64,
        render: impl FnOnce() -> Arc<Asset>,
    ) {
        let kept = at
            .previous
            .filter(|p| p.stamps.get(&path) == Some(&stamp))
            .and_then(|p| p.assets.get(&path).cloned());
        self.assets
            .push((path.clone(), kept.unwrap_or_else(render)));
        self.stamps.push((path, stamp));
    }
}

/// The Statuspage v2 documents, `/live.json`, the feeds, the calendar and the 404 page.
fn documents(at: &Inputs<'_>) -> Made {
    let (data, reuse, renderer) = (at.data, at.reuse, at.renderer);
    let mut made = Made::default();
    let ctx = &data.ctx;
    let page_json = page_doc(&data.page, ctx);
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
    let current_maint: Vec<&IncidentDoc> = active.iter().chain(&upcoming).collect();
    let all_maint: Vec<&IncidentDoc> = maintenances.iter().collect();
    let upcoming: Vec<&IncidentDoc> = upcoming.iter().collect();
    let active: Vec<&IncidentDoc> = active.iter().collect();
    let v2: [(&str, Doc<'_>); 8] = [
        (
            "/api/v2/summary.json",
            Doc {
                components: Some(&components),
                incidents: Some(&unresolved),
                scheduled_maintenances: Some(&current_maint),
                status: Some(&status),
                ..Doc::of(&page_json)
            },
        ),
        (
            "/api/v2/status.json",
            Doc {
                status: Some(&status),
                ..Doc::of(&page_json)
            },
        ),
        (
            "/api/v2/components.json",
            Doc {
                components: Some(&components),
                ..Doc::of(&page_json)
            },
        ),
        (
            "/api/v2/incidents.json",
            Doc {
                incidents: Some(&incidents),
                ..Doc::of(&page_json)
            },
        ),
        (
            "/api/v2/incidents/unresolved.json",
            Doc {
                incidents: Some(&unresolved),
                ..Doc::of(&page_json)
            },
        ),
        (
            "/api/v2/scheduled-maintenances.json",
            Doc {
                scheduled_maintenances: Some(&all_maint),
                ..Doc::of(&page_json)
            },
        ),
        (
            "/api/v2/scheduled-maintenances/upcoming.json",
            Doc {
                scheduled_maintenances: Some(&upcoming),
                ..Doc::of(&page_json)
            },
        ),
        (
            "/api/v2/scheduled-maintenances/active.json",
            Doc {
                scheduled_maintenances: Some(&active),
                ..Doc::of(&page_json)
            },
        ),
    ];
    for (path, doc) in &v2 {
        let asset = guarded(&mut made.problems, path, || json_asset(reuse, doc));
        made.assets.push(((*path).into(), asset));
    }
    made.assets.push((
        "/live.json".into(),
        reuse.asset(
            StatusCode::OK,
            "application/json; charset=utf-8",
            json!({
                "version": data.public_version,
                "status": status,
                "updated": data.page.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
            .to_string(),
            Caching::Live,
            true,
        ),
    ));
    // The feeds list the newest incidents with all their updates: they change when
    // one of those does.
    let feeds = listed(data, at.frame, &data.recent).done();
    let feed = std::cell::OnceCell::new();
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
        made.page(at, path.into(), feeds, || {
            match renderer.render(template, feed.get_or_init(|| pages::feed_view(data))) {
                Ok(xml) => reuse.asset(StatusCode::OK, ct, xml, Caching::Live, true),
                Err(e) => {
                    tracing::error!(error = %e, template, "feed rendering failed");
                    reuse.asset(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "text/plain; charset=utf-8",
                        "The feed could not be rendered.",
                        Caching::NoStore,
                        true,
                    )
                }
            }
        });
    }
    made.page(at, "/feeds".into(), at.frame, || {
        html_asset(
            reuse,
            renderer,
            "pages/feeds",
            &pages::feeds_view(data, at.links),
            StatusCode::OK,
        )
    });
    made.page(at, "404".into(), at.frame, || {
        html_asset(
            reuse,
            renderer,
            "pages/error",
            &pages::error_view(data, at.links, 404, "Page not found", "There is nothing at this address. The incident may have been removed, or the link mistyped."),
            StatusCode::NOT_FOUND,
        )
    });
    let calendar = guarded(&mut made.problems, "/maintenance.ics", || {
        reuse.asset(
            StatusCode::OK,
            "text/calendar; charset=utf-8",
            ics::calendar(data),
            Caching::Live,
            true,
        )
    });
    made.assets.push(("/maintenance.ics".into(), calendar));
    made
}

/// A stamp of `list`: the frame and each incident as of its last change.
fn listed(data: &Data, frame: u64, list: &[Incident]) -> Stamp {
    list.iter().fold(Stamp::default().with(frame), |s, i| {
        s.with((i.id.as_str(), data.revisions.get(&i.id)))
    })
}

/// The HTML pages: home, the first history page, the pages of incidents going on.
fn pages(at: &Inputs<'_>) -> (Made, fragments::Kept) {
    let (data, reuse, renderer, links) = (at.data, at.reuse, at.renderer, at.links);
    let mut made = Made::default();
    let parts = Fragments::new(renderer, at.previous.map(|p| &p.parts));
    let home = Stamp::default()
        .with((data.version, at.minute, at.frame))
        .done();
    made.page(at, "/".into(), home, || {
        html_asset(
            reuse,
            renderer,
            "pages/index",
            &pages::index_view(data, links, &parts),
            StatusCode::OK,
        )
    });
    // History is the past: what is still going on or yet to come is on the home page.
    let past: Vec<&Incident> = data
        .recent
        .iter()
        .filter(|i| Filter::Past.matches(i))
        .collect();
    let first: Vec<Incident> = past
        .iter()
        .take(HISTORY_PAGE_SIZE as usize)
        .map(|i| (*i).clone())
        .collect();
    let more = past.len() > HISTORY_PAGE_SIZE as usize || data.past_total() > past.len() as u64;
    // Open incidents' cards show how long they have lasted: the minute counts.
    let history = listed(data, at.frame, &first)
        .with((more, at.minute))
        .done();
    made.page(at, "/history".into(), history, || {
        html_asset(
            reuse,
            renderer,
            "pages/history",
            &pages::history_view(data, links, &first, 1, more, &parts),
            StatusCode::OK,
        )
    });
    // The pages of incidents still going on (and maintenance announced or under way)
    // are kept ready; every other incident's page is rendered when asked for.
    let mut going_on: Vec<&Incident> = data
        .unresolved
        .iter()
        .chain(&data.upcoming)
        .chain(&data.active_maintenance)
        .collect();
    going_on.dedup_by_key(|i| &i.id);
    for i in going_on {
        let stamp = Stamp::default()
            .with((
                at.frame,
                i.id.as_str(),
                data.revisions.get(&i.id),
                at.minute,
            ))
            .done();
        made.page(at, format!("/incidents/{}", i.id), stamp, || {
            html_asset(
                reuse,
                renderer,
                "pages/incident",
                &pages::incident_view(data, links, i),
                StatusCode::OK,
            )
        });
    }
    (made, parts.kept())
}

/// Renders the public documents from `data`, in two halves side by side; a page whose
/// stamp equals the one it had in `previous` keeps that page, and a document whose
/// bytes equal one in `previous` keeps that one's compressed forms. `Err` says why the
/// build failed (the previous snapshot is then kept).
pub fn build(
    data: Data,
    renderer: &Renderer,
    links: &StaticLinks,
    built_at: DateTime<Utc>,
    previous: Option<&Snapshot>,
) -> Result<Snapshot, String> {
    let reuse = Reuse::from(previous.into_iter().flat_map(|p| p.assets.values()));
    let at = Inputs {
        data: &data,
        renderer,
        links,
        previous,
        reuse: &reuse,
        frame: frame_stamp(&data).done(),
        minute: data.now.timestamp() / 60,
    };
    let ((html, parts_used), docs) = std::thread::scope(|s| {
        let docs = s.spawn(|| documents(&at));
        let html = pages(&at);
        (html, docs.join())
    });
    let docs = docs.map_err(|_| "building the documents panicked".to_owned())?;
    let mut assets = HashMap::new();
    let mut stamps = HashMap::new();
    let mut problems = Vec::new();
    for made in [html, docs] {
        assets.extend(made.assets);
        stamps.extend(made.stamps);
        problems.extend(made.problems);
    }
    data.markdown.turn();
    let mut parts = parts_used.clone();
    if let Some(p) = previous {
        for (k, v) in &p.parts_used {
            parts.entry(*k).or_insert_with(|| v.clone());
        }
    }
    Ok(Snapshot {
        version: data.version,
        built_at,
        data,
        assets,
        stamps,
        parts_used,
        parts,
        problems,
    })
}
