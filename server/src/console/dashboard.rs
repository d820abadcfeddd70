//! The dashboard: open incidents with the countdown to each promised update, active
//! and upcoming maintenance, the components board by group, and deliveries that failed.

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::auth::{Signed, Viewing};
use super::pages::{self, Frame, frame, render};
use crate::app::AppState;
use crate::domain::{Component, ComponentId, ComponentStatus, Incident, user::countdown};
use crate::render::statuspage::ComponentIndex;
use crate::render::time::{TimeView, time_view};
use crate::store::{StoreError, components, deliveries, incidents, pages as page_store};

#[derive(Debug, Serialize)]
pub struct ComponentView {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    pub status_label: &'static str,
}

#[derive(Debug, Serialize)]
pub struct GroupView {
    /// None for components outside any group.
    pub name: Option<String>,
    pub status: &'static str,
    pub status_label: &'static str,
    pub components: Vec<ComponentView>,
}

fn component_view(c: &Component, status: ComponentStatus) -> ComponentView {
    ComponentView {
        id: c.id.to_string(),
        name: c.name.clone(),
        status: status.as_str(),
        status_label: status.label(),
    }
}

/// The page's components by group, in the page's order: groups first as the page lists
/// them, then components in no group.
pub fn board(all: &[Component]) -> Vec<GroupView> {
    let index = ComponentIndex::new(all);
    let mut out = Vec::new();
    let mut loose = Vec::new();
    for c in all.iter().filter(|c| c.group_id.is_none()) {
        if c.is_group {
            let s = index.status(c);
            out.push(GroupView {
                name: Some(c.name.clone()),
                status: s.as_str(),
                status_label: s.label(),
                components: index
                    .children(&c.id)
                    .iter()
                    .map(|m| component_view(m, m.status))
                    .collect(),
            });
        } else {
            loose.push(component_view(c, c.status));
        }
    }
    if !loose.is_empty() {
        out.push(GroupView {
            name: None,
            status: "",
            status_label: "",
            components: loose,
        });
    }
    out
}

#[derive(Debug, Serialize)]
struct Affected {
    name: String,
    group: Option<String>,
    status: &'static str,
    status_label: &'static str,
}

#[derive(Debug, Serialize)]
struct OpenIncident {
    id: String,
    name: String,
    status: &'static str,
    status_label: &'static str,
    impact: &'static str,
    started: TimeView,
    affected: Vec<Affected>,
    next_update: Option<TimeView>,
    countdown: Option<crate::domain::user::Countdown>,
}

fn open_view(
    i: &Incident,
    index: &ComponentIndex<'_>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> OpenIncident {
    let live = crate::domain::holds::live(i.status);
    let statuses = if live {
        crate::domain::impact::giving(i)
    } else {
        i.components.clone()
    };
    OpenIncident {
        id: i.id.to_string(),
        name: i.name.clone(),
        status: i.status.as_str(),
        status_label: i.status.label(),
        impact: i.impact.as_str(),
        started: time_view(i.started_at, tz),
        affected: statuses
            .iter()
            .filter_map(|(id, s)| affected(index, id, *s))
            .collect(),
        next_update: i.next_update_due_at.map(|t| time_view(t, tz)),
        countdown: i.next_update_due_at.map(|t| countdown(t, now)),
    }
}

fn affected(index: &ComponentIndex<'_>, id: &ComponentId, s: ComponentStatus) -> Option<Affected> {
    index.get(id).map(|c| Affected {
        name: c.name.clone(),
        group: c
            .group_id
            .as_ref()
            .and_then(|g| index.get(g))
            .map(|g| g.name.clone()),
        status: s.as_str(),
        status_label: s.label(),
    })
}

#[derive(Debug, Serialize)]
struct Maintenance {
    id: String,
    name: String,
    status_label: &'static str,
    starts: Option<TimeView>,
    ends: Option<TimeView>,
}

fn maintenance(i: &Incident, tz: chrono_tz::Tz) -> Maintenance {
    Maintenance {
        id: i.id.to_string(),
        name: i.name.clone(),
        status_label: i.status.label(),
        starts: i.scheduled_for.map(|t| time_view(t, tz)),
        ends: i.scheduled_until.map(|t| time_view(t, tz)),
    }
}

#[derive(Serialize)]
struct DashboardView {
    layout: Frame,
    now: TimeView,
    incidents: Vec<OpenIncident>,
    active_maintenance: Vec<Maintenance>,
    upcoming_maintenance: Vec<Maintenance>,
    groups: Vec<GroupView>,
    failed_deliveries: u64,
    dead_deliveries: u64,
}

async fn dashboard(state: &AppState, who: &Signed) -> Result<DashboardView, StoreError> {
    let db = state.store.db();
    let page_id = state.store.page_id();
    let page = page_store::get(db, page_id).await?;
    let tz: chrono_tz::Tz = page.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let now = state.clock.now();
    let all = components::list(db, page_id).await?;
    let index = ComponentIndex::new(&all);
    let open = incidents::list(db, page_id, incidents::Filter::Unresolved, None, 200, 0).await?;
    let active = incidents::list(
        db,
        page_id,
        incidents::Filter::ActiveMaintenance,
        None,
        50,
        0,
    )
    .await?;
    let upcoming = incidents::upcoming_maintenance(db, page_id, 50).await?;
    let depth = deliveries::depth(db).await?;
    let mut incidents: Vec<OpenIncident> = open
        .iter()
        .filter(|i| i.scheduled_for.is_none() && !i.status.is_maintenance())
        .map(|i| open_view(i, &index, tz, now))
        .collect();
    // The promise due first comes first: that is the one about to be late.
    incidents.sort_by_key(|i| {
        i.next_update
            .as_ref()
            .map_or_else(|| "~".to_owned(), |t| t.iso.clone())
    });
    Ok(DashboardView {
        layout: frame(state, "Dashboard", Some(who), "dashboard"),
        now: time_view(now, tz),
        incidents,
        active_maintenance: active.iter().map(|i| maintenance(i, tz)).collect(),
        upcoming_maintenance: upcoming.iter().map(|i| maintenance(i, tz)).collect(),
        groups: board(&all),
        failed_deliveries: depth.failed,
        dead_deliveries: depth.dead,
    })
}

pub async fn page(state: web::Data<AppState>, Viewing(who): Viewing) -> HttpResponse {
    match dashboard(&state, &who).await {
        Ok(view) => render(&state, StatusCode::OK, "admin/dashboard", &view),
        Err(e) => {
            tracing::error!(error = %e, "the console dashboard");
            pages::unavailable(&state)
        }
    }
}
