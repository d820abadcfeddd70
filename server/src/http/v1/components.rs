use actix_web::{HttpResponse, http::Method, web};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, created, nullable, ok, write};
use crate::app::AppState;
use crate::domain::{
    ComponentId, ComponentStatus, IncidentId, PageId, Period,
    Role::{Responder, Viewer},
    uptime,
};
use crate::http::{
    body::{Change, Envelope, Enveloped},
    error::ApiError,
    lenient,
    routes::RouteTable,
};
use crate::render::statuspage::{ComponentDoc, Flavor};
use crate::render::uptime as render_uptime;
use crate::store::{
    Actor,
    components::{self, ComponentPatch, NewComponent},
    impact,
};

pub fn routes(t: &mut RouteTable) {
    use Method as M;
    let base = "/v1/pages/{page_id}/components";
    let one = "/v1/pages/{page_id}/components/{component_id}";
    t.add(
        M::GET,
        base,
        Viewer,
        "components",
        "List components (groups included)",
        list,
    )
    .returns_list::<ComponentDoc>();
    t.add(
        M::POST,
        base,
        Responder,
        "components",
        "Create a component",
        create,
    )
    .created()
    .requires(&["name"])
    .body::<ComponentBody>()
    .returns::<ComponentDoc>();
    t.add(M::GET, one, Viewer, "components", "Get a component", get)
        .returns::<ComponentDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            one,
            Responder,
            "components",
            "Update a component: rename, move, reorder, set status",
            update,
        )
        .body::<ComponentBody>()
        .returns::<ComponentDoc>();
    }
    t.add(
        M::DELETE,
        one,
        Responder,
        "components",
        "Delete a component; refused (409) while an open incident holds it, unless force=true",
        delete,
    )
    .query::<DeleteQuery>()
    .returns::<ComponentDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/components/{component_id}/uptime",
        Viewer,
        "components",
        "A component's uptime over a range of days (start, end: YYYY-MM-DD)",
        uptime,
    )
    .query::<UptimeQuery>()
    .returns::<UptimeDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/components/{component_id}/status-history",
        Viewer,
        "components",
        "A component's status history from its impact periods, oldest first (the newest 1000)",
        history,
    )
    .returns_list::<StatusChangeDoc>();

    let gbase = "/v1/pages/{page_id}/component-groups";
    let gone = "/v1/pages/{page_id}/component-groups/{group_id}";
    t.add(
        M::GET,
        gbase,
        Viewer,
        "component groups",
        "List component groups",
        list_groups,
    )
    .returns_list::<GroupDoc>();
    t.add(
        M::POST,
        gbase,
        Responder,
        "component groups",
        "Create a component group",
        create_group,
    )
    .created()
    .requires(&["name"])
    .body::<GroupBody>()
    .returns::<GroupDoc>();
    t.add(
        M::GET,
        gone,
        Viewer,
        "component groups",
        "Get a component group",
        get_group,
    )
    .returns::<GroupDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            gone,
            Responder,
            "component groups",
            "Update a component group: rename, reorder, change members",
            update_group,
        )
        .body::<GroupBody>()
        .returns::<GroupDoc>();
    }
    t.add(
        M::DELETE,
        gone,
        Responder,
        "component groups",
        "Delete a group (its components stay)",
        delete_group,
    )
    .returns::<GroupDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/component-groups/{group_id}/uptime",
        Viewer,
        "component groups",
        "A group's uptime over a range of days (start, end: YYYY-MM-DD)",
        group_uptime,
    )
    .query::<UptimeQuery>()
    .returns::<GroupUptimeDoc>();
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ComponentBody {
    #[schemars(length(min = 1, max = 255), regex(pattern = crate::http::routes::NAME_PATTERN))]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    pub status: Option<ComponentStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub group_id: Option<Option<ComponentId>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub showcase: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub only_show_if_degraded: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub start_date: Option<Option<NaiveDate>>,
    /// 1-based place among all components; the others move to make room.
    #[serde(default, deserialize_with = "lenient::opt_i32")]
    #[schemars(with = "Option<lenient::Position>")]
    pub position: Option<i32>,
}

impl Enveloped for ComponentBody {
    const KEY: &'static str = "component";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GroupBody {
    #[schemars(length(min = 1, max = 255), regex(pattern = crate::http::routes::NAME_PATTERN))]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    /// The ids of the components in the group; replaces the current members.
    pub components: Option<Vec<ComponentId>>,
    #[serde(default, deserialize_with = "lenient::opt_i32")]
    #[schemars(with = "Option<lenient::Position>")]
    pub position: Option<i32>,
}

impl Enveloped for GroupBody {
    const KEY: &'static str = "component_group";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GroupDoc {
    pub id: ComponentId,
    pub page_id: PageId,
    pub name: String,
    pub description: Option<String>,
    pub components: Vec<ComponentId>,
    pub position: i32,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusChangeDoc {
    pub component_id: ComponentId,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
    pub incident_id: Option<crate::domain::IncidentId>,
    pub at: String,
}

type One = web::Path<(String, String)>;

fn component_id(path: One) -> ComponentId {
    ComponentId::from(path.into_inner().1)
}

fn component_doc(view: &View, id: &ComponentId) -> Result<ComponentDoc, ApiError> {
    let index = view.index();
    let c = index
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("component '{id}' was not found")))?;
    Ok(index.doc(c, &view.ctx, Flavor::Manage))
}

fn group_doc(view: &View, id: &ComponentId) -> Result<GroupDoc, ApiError> {
    let index = view.index();
    let g = index
        .get(id)
        .filter(|c| c.is_group)
        .ok_or_else(|| ApiError::NotFound(format!("component group '{id}' was not found")))?;
    Ok(GroupDoc {
        id: g.id.clone(),
        page_id: g.page_id.clone(),
        name: g.name.clone(),
        description: g.description.clone(),
        components: index.children(&g.id).iter().map(|c| c.id.clone()).collect(),
        position: g.position,
        created_at: view.ctx.ts(g.created_at),
        updated_at: view.ctx.ts(g.updated_at),
    })
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    Ok(ok(&view.index().docs(&view.ctx, Flavor::Manage)))
}

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let id = &component_id(path);
    if view.index().get(id).is_some_and(|c| c.is_group) {
        return Err(ApiError::NotFound(format!(
            "component '{id}' was not found"
        )));
    }
    Ok(ok(&component_doc(&view, id)?))
}

/// The component a create body asks for (the console's form makes the same body).
pub(crate) fn new_component(b: ComponentBody) -> Result<NewComponent, ApiError> {
    let Some(name) = b.name else {
        return Err(ApiError::invalid(
            "component.name",
            "component.name is required",
        ));
    };
    Ok(NewComponent {
        name,
        description: b.description.flatten(),
        status: b.status,
        group_id: b.group_id.flatten(),
        showcase: b.showcase,
        only_show_if_degraded: b.only_show_if_degraded,
        start_date: b.start_date.flatten(),
        position: b.position,
        is_group: false,
        members: Vec::new(),
    })
}

/// The change an update body asks of a component.
pub(crate) fn component_patch(b: ComponentBody) -> ComponentPatch {
    ComponentPatch {
        name: b.name,
        description: b.description,
        status: b.status,
        group_id: b.group_id,
        showcase: b.showcase,
        only_show_if_degraded: b.only_show_if_degraded,
        start_date: b.start_date,
        position: b.position,
        members: None,
    }
}

/// The group a create body asks for.
pub(crate) fn new_group(b: GroupBody) -> Result<NewComponent, ApiError> {
    let Some(name) = b.name else {
        return Err(ApiError::invalid(
            "component_group.name",
            "component_group.name is required",
        ));
    };
    Ok(NewComponent {
        name,
        description: b.description.flatten(),
        position: b.position,
        is_group: true,
        members: b.components.unwrap_or_default(),
        ..Default::default()
    })
}

/// The change an update body asks of a group.
pub(crate) fn group_patch(b: GroupBody) -> ComponentPatch {
    ComponentPatch {
        name: b.name,
        description: b.description,
        position: b.position,
        members: b.components,
        ..Default::default()
    }
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<ComponentBody>,
) -> Result<HttpResponse, ApiError> {
    let new = new_component(b)?;
    let c = write(&state, &actor, async |w| components::create(w, new).await)
        .await
        .map_err(|e| e.in_body(ComponentBody::KEY))?;
    Ok(created(&component_doc(&View::load(&state).await?, &c.id)?))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Change(b): Change<ComponentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = component_id(path);
    let Some(b) = b else {
        // Nothing to change: the component as it is, nothing written.
        let view = View::load(&state).await?;
        if view.index().get(&id).is_some_and(|c| c.is_group) {
            return Err(ApiError::NotFound(format!(
                "component '{id}' was not found"
            )));
        }
        return Ok(ok(&component_doc(&view, &id)?));
    };
    let patch = component_patch(b);
    write(&state, &actor, async |w| {
        components::update(w, &id, false, patch).await
    })
    .await
    .map_err(|e| e.in_body(ComponentBody::KEY))?;
    Ok(ok(&component_doc(&View::load(&state).await?, &id)?))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DeleteQuery {
    /// Delete even while an open incident holds the component: it leaves the incident.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub force: Option<bool>,
}

pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    q: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let id = component_id(path);
    let doc = component_doc(&view, &id)?;
    let force = q.force.unwrap_or(false);
    write(&state, &actor, async |w| {
        components::delete(w, &id, false, force).await
    })
    .await?;
    Ok(ok(&doc))
}

/// The most status changes `status-history` lists (the newest).
const HISTORY_MAX: usize = 1_000;

pub async fn history(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let id = &component_id(path);
    components::get(state.store.db(), id, false).await?;
    let now = state.clock.now();
    let periods = impact::overlapping(
        state.store.db(),
        crate::domain::text::earliest(),
        now + chrono::Duration::days(1),
        Some(std::slice::from_ref(id)),
    )
    .await?;
    let refs: Vec<&Period> = periods.iter().collect();
    let from = refs.iter().map(|p| p.start).min().unwrap_or(now);
    let changes = uptime::transitions(&uptime::segments(&refs, from, now), now);
    let skip = changes.len().saturating_sub(HISTORY_MAX);
    let all: Vec<StatusChangeDoc> = changes
        .into_iter()
        .skip(skip)
        .map(
            |(at, old_status, new_status, incident_id)| StatusChangeDoc {
                component_id: id.clone(),
                old_status,
                new_status,
                incident_id,
                at: view.ctx.ts(at),
            },
        )
        .collect();
    Ok(ok(&all))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UptimeQuery {
    /// First day, `YYYY-MM-DD` in the page's time zone (default: 89 days before `end`,
    /// or the first day the component was observed).
    pub start: Option<String>,
    /// Last day, included (default: today).
    pub end: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RelatedIncident {
    pub id: IncidentId,
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UptimeDoc {
    pub id: ComponentId,
    pub name: String,
    pub range_start: String,
    pub range_end: String,
    /// 0 to 100, floored to two decimals.
    pub uptime_percentage: f64,
    /// Seconds of major outage in the range.
    pub major_outage: i64,
    /// Seconds of partial outage in the range.
    pub partial_outage: i64,
    pub related_events: Vec<RelatedIncident>,
    /// What was changed from the range asked for, if anything.
    pub warnings: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GroupRelated {
    pub component_id: ComponentId,
    pub incidents: Vec<RelatedIncident>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GroupUptimeDoc {
    pub id: ComponentId,
    pub name: String,
    pub range_start: String,
    pub range_end: String,
    pub uptime_percentage: f64,
    pub major_outage: i64,
    pub partial_outage: i64,
    pub related_events: Vec<GroupRelated>,
    pub warnings: Option<String>,
}

fn day(field: &str, v: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim().parse::<NaiveDate>().map_err(|_| {
                ApiError::invalid(
                    field,
                    format!("{field} must be a date like 2026-04-14, got '{s}'"),
                )
            })
        })
        .transpose()
}

/// What an uptime answer is made of: the range, the report and the incidents' names.
struct Measured {
    range: render_uptime::Range,
    report: render_uptime::Report,
    periods: Vec<Period>,
    names: std::collections::HashMap<IncidentId, String>,
}

async fn measure(
    state: &AppState,
    view: &View,
    members: &[&crate::domain::Component],
    q: &UptimeQuery,
) -> Result<Measured, ApiError> {
    let tz = view.ctx.tz;
    let now = state.clock.now();
    let ids: Vec<ComponentId> = members.iter().map(|c| c.id.clone()).collect();
    let start = day("start", q.start.as_deref())?;
    let end = day("end", q.end.as_deref())?;
    let today = now.with_timezone(&tz).date_naive();
    // Everything a component ever had, bounded: the first day it was observed.
    let periods = impact::overlapping(
        state.store.db(),
        crate::domain::text::earliest(),
        now + chrono::Duration::days(1),
        Some(&ids),
    )
    .await?;
    let refs: Vec<&Period> = periods.iter().collect();
    let observed = members
        .iter()
        .map(|c| {
            let own: Vec<&Period> = refs
                .iter()
                .copied()
                .filter(|p| p.component_id == c.id)
                .collect();
            render_uptime::observed_from(c, &own, tz)
        })
        .min()
        .unwrap_or(now);
    let first = observed.with_timezone(&tz).date_naive();
    let range = render_uptime::range(start, end, first, today)
        .map_err(|m| ApiError::invalid("start", m))?;
    let from = render_uptime::midnight(range.start, tz);
    let to = render_uptime::midnight(range.end + chrono::Duration::days(1), tz).min(now);
    let report = render_uptime::report(&refs, observed, from, to);
    let names = impact::incident_names(state.store.db(), &report.incidents).await?;
    Ok(Measured {
        range,
        report,
        periods,
        names,
    })
}

fn related(
    ids: &[IncidentId],
    names: &std::collections::HashMap<IncidentId, String>,
) -> Vec<RelatedIncident> {
    ids.iter()
        .map(|id| RelatedIncident {
            id: id.clone(),
            name: names.get(id).cloned().unwrap_or_default(),
        })
        .collect()
}

fn warnings(r: &render_uptime::Range) -> Option<String> {
    (!r.warnings.is_empty()).then(|| r.warnings.join("; "))
}

pub async fn uptime(
    state: web::Data<AppState>,
    path: One,
    q: web::Query<UptimeQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let id = component_id(path);
    let Some(c) = view.components.iter().find(|c| c.id == id && !c.is_group) else {
        return Err(ApiError::NotFound(format!(
            "component '{id}' was not found"
        )));
    };
    let m = measure(&state, &view, &[c], &q).await?;
    Ok(ok(&UptimeDoc {
        id: c.id.clone(),
        name: c.name.clone(),
        range_start: m.range.start.to_string(),
        range_end: m.range.end.to_string(),
        uptime_percentage: m.report.percent,
        major_outage: m.report.major_seconds,
        partial_outage: m.report.partial_seconds,
        related_events: related(&m.report.incidents, &m.names),
        warnings: warnings(&m.range),
    }))
}

/// A group's uptime: its status at any moment is the worst of its components', so its
/// periods are all of theirs.
pub async fn group_uptime(
    state: web::Data<AppState>,
    path: One,
    q: web::Query<UptimeQuery>,
) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let id = component_id(path);
    let Some(g) = view.components.iter().find(|c| c.id == id && c.is_group) else {
        return Err(ApiError::NotFound(format!(
            "component group '{id}' was not found"
        )));
    };
    let members: Vec<&crate::domain::Component> = view.index().children(&g.id).to_vec();
    let m = measure(&state, &view, &members, &q).await?;
    let from = render_uptime::midnight(m.range.start, view.ctx.tz);
    let to = render_uptime::midnight(m.range.end + chrono::Duration::days(1), view.ctx.tz);
    let related_events = members
        .iter()
        .map(|c| {
            let mut ids: Vec<IncidentId> = Vec::new();
            for p in m
                .periods
                .iter()
                .filter(|p| p.component_id == c.id && p.overlaps(from, to))
            {
                if let Some(i) = &p.incident_id
                    && !ids.contains(i)
                {
                    ids.push(i.clone());
                }
            }
            GroupRelated {
                component_id: c.id.clone(),
                incidents: related(&ids, &m.names),
            }
        })
        .collect();
    Ok(ok(&GroupUptimeDoc {
        id: g.id.clone(),
        name: g.name.clone(),
        range_start: m.range.start.to_string(),
        range_end: m.range.end.to_string(),
        uptime_percentage: m.report.percent,
        major_outage: m.report.major_seconds,
        partial_outage: m.report.partial_seconds,
        related_events,
        warnings: warnings(&m.range),
    }))
}

pub async fn list_groups(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let groups = view
        .components
        .iter()
        .filter(|c| c.is_group)
        .map(|g| group_doc(&view, &g.id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ok(&groups))
}

pub async fn get_group(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    Ok(ok(&group_doc(
        &View::load(&state).await?,
        &component_id(path),
    )?))
}

pub async fn create_group(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let new = new_group(b)?;
    let g = write(&state, &actor, async |w| components::create(w, new).await)
        .await
        .map_err(|e| e.in_body(GroupBody::KEY))?;
    Ok(created(&group_doc(&View::load(&state).await?, &g.id)?))
}

pub async fn update_group(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Change(b): Change<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let id = component_id(path);
    let Some(b) = b else {
        return Ok(ok(&group_doc(&View::load(&state).await?, &id)?));
    };
    let patch = group_patch(b);
    write(&state, &actor, async |w| {
        components::update(w, &id, true, patch).await
    })
    .await
    .map_err(|e| e.in_body(GroupBody::KEY))?;
    Ok(ok(&group_doc(&View::load(&state).await?, &id)?))
}

pub async fn delete_group(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let id = component_id(path);
    let doc = group_doc(&View::load(&state).await?, &id)?;
    write(&state, &actor, async |w| {
        components::delete(w, &id, true, false).await
    })
    .await?;
    Ok(ok(&doc))
}
