use std::collections::{BTreeMap, HashSet};

use actix_web::{HttpResponse, http::Method, web};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Paging, Shown, View, commit, created, nullable, ok};
use crate::app::AppState;
use crate::domain::{
    ComponentId, ComponentStatus, Impact, IncidentId, IncidentStatus,
    Role::{Responder, Viewer},
    UpdateId,
};
use crate::http::{
    body::{Change, Envelope, Enveloped},
    error::ApiError,
    lenient,
    routes::RouteTable,
};
use crate::render::statuspage::{Flavor, IncidentDoc, IncidentUpdateDoc, incident_doc, update_doc};
use crate::store::{
    Actor,
    incidents::{self, Changes, Command, Filter, Incident, PostmortemAction, Promise},
};

pub fn routes(t: &mut RouteTable) {
    use Method as M;
    let base = "/v1/pages/{page_id}/incidents";
    let one = "/v1/pages/{page_id}/incidents/{incident_id}";
    let tag = "incidents";
    t.add(
        M::GET,
        base,
        Viewer,
        tag,
        "List incidents and maintenances, newest first (`q`, `limit`, `page`)",
        list,
    )
    .query::<super::Paging>()
    .returns_list::<IncidentDoc>();
    t.add(
        M::POST,
        base,
        Responder,
        tag,
        "Open an incident (or schedule a maintenance with `scheduled_for`)",
        create,
    )
    .created()
    .requires(&["name"])
    .body::<IncidentBody>()
    .returns::<IncidentDoc>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/incidents/preview",
        Responder,
        tag,
        "Preview opening an incident: the rendered text, the promise, the audience and a sample of each message; stores and sends nothing",
        preview_create,
    )
    .requires(&["name"])
    .body::<IncidentBody>()
    .returns::<PreviewDoc>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/incidents/{incident_id}/preview",
        Responder,
        tag,
        "Preview an update (the body an update takes): the rendered text, the promise, the audience and a sample of each message; stores and sends nothing",
        preview_update,
    )
    .body::<IncidentBody>()
    .returns::<PreviewDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/incidents/unresolved",
        Viewer,
        tag,
        "Unresolved incidents",
        unresolved,
    )
    .query::<super::Paging>()
    .returns_list::<IncidentDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/incidents/scheduled",
        Viewer,
        tag,
        "Scheduled maintenances not started",
        scheduled,
    )
    .query::<super::Paging>()
    .returns_list::<IncidentDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/incidents/upcoming",
        Viewer,
        tag,
        "Upcoming maintenances",
        scheduled,
    )
    .query::<super::Paging>()
    .returns_list::<IncidentDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/incidents/active_maintenance",
        Viewer,
        tag,
        "Maintenances in progress or verifying",
        active_maintenance,
    )
    .query::<super::Paging>()
    .returns_list::<IncidentDoc>();
    t.add(
        M::GET,
        one,
        Viewer,
        tag,
        "Get an incident with its updates, newest first, and its deliveries by channel and state",
        get,
    )
    .returns::<IncidentDetailDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            one,
            Responder,
            tag,
            "Update an incident; a new status or body posts an update",
            update,
        )
        .body::<IncidentBody>()
        .returns::<IncidentDoc>();
    }
    t.add(M::DELETE, one, Responder, tag, "Delete an incident", delete)
        .returns::<IncidentDoc>();
    let upd = "/v1/pages/{page_id}/incidents/{incident_id}/incident_updates/{incident_update_id}";
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            upd,
            Responder,
            tag,
            "Edit an update: body, display_at, deliver_notifications",
            edit_update,
        )
        .body::<IncidentUpdateBody>()
        .returns::<IncidentUpdateDoc>();
    }
    let pm = "/v1/pages/{page_id}/incidents/{incident_id}/postmortem";
    t.add(
        M::GET,
        pm,
        Viewer,
        "postmortems",
        "Get the postmortem: the published text and the draft",
        get_postmortem,
    )
    .returns::<PostmortemDoc>();
    t.add(
        M::PUT,
        pm,
        Responder,
        "postmortems",
        "Save the postmortem draft (Markdown); the incident must be resolved",
        draft,
    )
    .requires(&["body_draft"])
    .body::<PostmortemBody>()
    .returns::<PostmortemDoc>();
    t.add(
        M::DELETE,
        pm,
        Responder,
        "postmortems",
        "Delete the postmortem",
        delete_postmortem,
    )
    .returns::<PostmortemDoc>();
    t.add(
        M::PUT,
        "/v1/pages/{page_id}/incidents/{incident_id}/postmortem/publish",
        Responder,
        "postmortems",
        "Publish the postmortem draft",
        publish,
    )
    .body::<PublishBody>()
    .returns::<PostmortemDoc>();
    t.add(
        M::PUT,
        "/v1/pages/{page_id}/incidents/{incident_id}/postmortem/revert",
        Responder,
        "postmortems",
        "Take a published postmortem back to draft",
        revert,
    )
    .returns::<PostmortemDoc>();
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct IncidentBody {
    #[schemars(length(min = 1, max = 255), regex(pattern = crate::http::routes::NAME_PATTERN))]
    pub name: Option<String>,
    pub status: Option<IncidentStatus>,
    /// Markdown. With `status`, or alone, it posts an update.
    pub body: Option<String>,
    /// Overrides the impact derived from the affected components; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    pub impact_override: Option<Option<Impact>>,
    /// Affected components and the status each takes.
    pub components: Option<BTreeMap<String, ComponentStatus>>,
    /// Affected components; those not in `components` keep their status.
    pub component_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub deliver_notifications: Option<bool>,
    /// When the impact began, if before the incident was posted.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    #[schemars(with = "Option<lenient::Time>")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the impact ended (resolved incidents only).
    #[serde(default, deserialize_with = "lenient::opt_time")]
    #[schemars(with = "Option<lenient::Time>")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub metadata: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub backfilled: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_time")]
    #[schemars(with = "Option<lenient::Time>")]
    pub scheduled_for: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::opt_time")]
    #[schemars(with = "Option<lenient::Time>")]
    pub scheduled_until: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub scheduled_remind_prior: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub scheduled_auto_in_progress: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub scheduled_auto_completed: Option<bool>,
    /// At the automatic start, set the components under maintenance (default true).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub auto_transition_to_maintenance_state: Option<bool>,
    /// At the automatic end, set the components back (default true).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub auto_transition_to_operational_state: Option<bool>,
    /// Whether the automatic start notifies subscribers (default false).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub auto_transition_deliver_notifications_at_start: Option<bool>,
    /// Whether the automatic end notifies subscribers (default false).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub auto_transition_deliver_notifications_at_end: Option<bool>,
    /// Herald: keep a maintenance from readers and followers until this time; it is
    /// announced then.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    #[schemars(with = "Option<lenient::Time>")]
    pub publish_at: Option<DateTime<Utc>>,
    /// Herald: with `scheduled_remind_prior`, remind followers this many minutes before
    /// the start (default `[1440, 60]`: a day and an hour ahead).
    #[schemars(length(max = 5), inner(range(min = 1, max = 43200)))]
    pub scheduled_reminders: Option<Vec<u32>>,
    /// Herald: promise the next update within this many minutes (shown on the page).
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    #[schemars(with = "Option<lenient::Minutes>")]
    pub next_update_in_minutes: Option<u32>,
    /// Herald: promise the next update by this time.
    #[serde(default, deserialize_with = "lenient::opt_time")]
    #[schemars(with = "Option<lenient::Time>")]
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub custom_tweet: Option<String>,
    /// Herald: component groups (pods) the incident affects: each stands for all its
    /// components, like naming them in `component_ids`.
    pub component_group_ids: Option<Vec<String>>,
    /// Herald: fill name, body, status, components and the promise from this incident
    /// template; fields given here win over the template's.
    pub template_id: Option<String>,
    /// Herald: the template's free variables (`{{vars.NAME}}`).
    pub template_vars: Option<serde_json::Map<String, serde_json::Value>>,
    /// The template that filled the body (set by Herald, never read from a request).
    #[serde(skip)]
    #[schemars(skip)]
    pub template_used: Option<String>,
}

impl Enveloped for IncidentBody {
    const KEY: &'static str = "incident";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct IncidentUpdateBody {
    pub body: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_time")]
    #[schemars(with = "Option<lenient::Time>")]
    pub display_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub deliver_notifications: Option<bool>,
}

impl Enveloped for IncidentUpdateBody {
    const KEY: &'static str = "incident_update";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PostmortemBody {
    /// The postmortem in Markdown (not blank).
    #[schemars(length(min = 1, max = 262_144), regex(pattern = r"\S"))]
    pub body_draft: Option<String>,
}

impl Enveloped for PostmortemBody {
    const KEY: &'static str = "postmortem";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PublishBody {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub notify_subscribers: Option<bool>,
}

impl Enveloped for PublishBody {
    const KEY: &'static str = "postmortem";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PostmortemDoc {
    pub preview_key: Option<String>,
    /// The published postmortem, or null while it is a draft.
    pub body: Option<String>,
    pub body_updated_at: Option<String>,
    pub body_draft: Option<String>,
    pub body_draft_updated_at: Option<String>,
    pub published_at: Option<String>,
    pub notify_subscribers: bool,
    pub notify_twitter: bool,
    pub custom_tweet: Option<String>,
}

type One = web::Path<(String, String)>;

fn incident_id(path: One) -> IncidentId {
    IncidentId::from(path.into_inner().1)
}

impl IncidentBody {
    /// The one conversion from a request body to the domain's changes. Components come
    /// from `components` (with a status) then `component_ids` (without), each once.
    pub(crate) fn into_changes(self) -> Result<Changes, ApiError> {
        let named = self.components.as_ref().map_or(0, BTreeMap::len)
            + self.component_ids.as_ref().map_or(0, Vec::len);
        if named > MAX_NAMED {
            return Err(ApiError::invalid(
                "incident.components",
                format!("an incident names at most {MAX_NAMED} components"),
            ));
        }
        let mut seen = HashSet::new();
        let mut components: Vec<(ComponentId, Option<ComponentStatus>)> = Vec::new();
        for (id, s) in self.components.unwrap_or_default() {
            if seen.insert(id.clone()) {
                components.push((ComponentId::from(id), Some(s)));
            }
        }
        for id in self.component_ids.unwrap_or_default() {
            if seen.insert(id.clone()) {
                components.push((ComponentId::from(id), None));
            }
        }
        let most = crate::domain::incident::MAX_PROMISE_MINUTES;
        if let Some(m) = self.next_update_in_minutes
            && m > most
        {
            // Refused even on a change that posts no update, where it would be unused.
            return Err(ApiError::invalid(
                "incident.next_update_in_minutes",
                format!("incident.next_update_in_minutes must be at most {most} (a week)"),
            ));
        }
        let promise = match (self.next_update_due_at, self.next_update_in_minutes) {
            (Some(at), _) => Some(Promise::By(at)),
            (None, Some(m)) => Some(Promise::Within(m)),
            (None, None) => None,
        };
        Ok(Changes {
            name: self.name,
            status: self.status,
            body: self.body,
            impact_override: self.impact_override,
            components,
            deliver_notifications: self.deliver_notifications,
            started_at: self.started_at,
            resolved_at: self.resolved_at,
            metadata: self.metadata,
            backfilled: self.backfilled,
            scheduled_for: self.scheduled_for,
            scheduled_until: self.scheduled_until,
            scheduled_remind_prior: self.scheduled_remind_prior,
            scheduled_auto_in_progress: self.scheduled_auto_in_progress,
            scheduled_auto_completed: self.scheduled_auto_completed,
            plan: Box::new(crate::domain::maintenance::PlanChanges {
                to_maintenance_state: self.auto_transition_to_maintenance_state,
                to_operational_state: self.auto_transition_to_operational_state,
                notify_at_start: self.auto_transition_deliver_notifications_at_start,
                notify_at_end: self.auto_transition_deliver_notifications_at_end,
                reminders: self.scheduled_reminders,
                publish_at: self.publish_at,
            }),
            promise,
            template: self.template_used,
            custom_tweet: self.custom_tweet,
        })
    }
}

/// The most components one request may name (more than any page has).
const MAX_NAMED: usize = crate::domain::component::MAX_MEMBERS;

/// Whether `i`'s promised update is late at `now`.
fn overdue(i: &Incident, now: DateTime<Utc>) -> bool {
    i.status.is_open() && i.next_update_due_at.is_some_and(|d| d < now)
}

async fn render(state: &AppState, incidents: &[Incident]) -> Result<Vec<IncidentDoc>, ApiError> {
    let view = View::load(state).await?;
    let index = view.index();
    let now = state.clock.now();
    Ok(incidents
        .iter()
        .map(|i| {
            let mut doc = incident_doc(i, &index, &view.ctx, Flavor::Manage);
            if let Some(v1) = doc.v1.as_mut() {
                v1.next_update_overdue = Some(overdue(i, now));
            }
            doc
        })
        .collect())
}

async fn render_one(state: &AppState, incident: &Incident) -> Result<IncidentDoc, ApiError> {
    render(state, std::slice::from_ref(incident))
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("rendering lost the incident".into()))
}

async fn listing(
    state: &AppState,
    filter: Filter,
    paging: &Paging,
) -> Result<HttpResponse, ApiError> {
    let (limit, offset) = paging.window();
    if paging.overdue == Some(true) && filter == Filter::Unresolved {
        // Open incidents are few: filter them all, then take the page.
        let now = state.clock.now();
        let late: Vec<Incident> = incidents::list(
            state.store.db(),
            state.store.page_id(),
            filter,
            paging.query()?,
            10_000,
            0,
        )
        .await?
        .into_iter()
        .filter(|i| overdue(i, now))
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(100))
        .collect();
        return Ok(ok(&render(state, &late).await?));
    }
    let all = incidents::list(
        state.store.db(),
        state.store.page_id(),
        filter,
        paging.query()?,
        limit,
        offset,
    )
    .await?;
    Ok(ok(&render(state, &all).await?))
}

pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    listing(&state, Filter::All, &q).await
}

pub async fn unresolved(
    state: web::Data<AppState>,
    q: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    listing(&state, Filter::Unresolved, &q).await
}

pub async fn scheduled(
    state: web::Data<AppState>,
    q: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    listing(&state, Filter::Scheduled, &q).await
}

pub async fn active_maintenance(
    state: web::Data<AppState>,
    q: web::Query<Paging>,
) -> Result<HttpResponse, ApiError> {
    listing(&state, Filter::ActiveMaintenance, &q).await
}

/// An incident as `GET .../incidents/{id}` answers: with its deliveries.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IncidentDetailDoc {
    #[serde(flatten)]
    pub incident: IncidentDoc,
    /// Herald: deliveries about this incident, by channel and state
    /// (`{"email": {"delivered": 12, "retrying": 1}}`).
    pub deliveries: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
}

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let incident = incidents::get(state.store.db(), &incident_id(path)).await?;
    let deliveries =
        crate::store::deliveries::counts_for_incident(state.store.db(), &incident.id).await?;
    Ok(ok(&IncidentDetailDoc {
        incident: render_one(&state, &incident).await?,
        deliveries,
    }))
}

/// Fills the body from its template, if it names one, after turning
/// `component_group_ids` into the groups' components.
pub(crate) async fn templated(
    state: &AppState,
    b: IncidentBody,
    current: Option<&Incident>,
) -> Result<IncidentBody, ApiError> {
    templated_as(state, b, current, crate::domain::template::Target::Markdown).await
}

/// `templated`, with the template's body escaped for `body_target`.
pub(crate) async fn templated_as(
    state: &AppState,
    mut b: IncidentBody,
    current: Option<&Incident>,
    body_target: crate::domain::template::Target,
) -> Result<IncidentBody, ApiError> {
    if b.template_id.is_none() && b.template_vars.is_some() {
        return Err(ApiError::invalid(
            "incident.template_vars",
            "template_vars are given with a template_id",
        ));
    }
    if b.component_group_ids.is_none() && b.template_id.is_none() {
        return Ok(b);
    }
    // Both need the components; read them once.
    let view = View::load(state).await?;
    if let Some(groups) = b.component_group_ids.take() {
        if groups.len() > MAX_NAMED {
            return Err(ApiError::invalid(
                "incident.component_group_ids",
                format!("an incident names at most {MAX_NAMED} groups"),
            ));
        }
        let index = view.index();
        let mut ids = b.component_ids.take().unwrap_or_default();
        for g in &groups {
            let gid = ComponentId::from(g.clone());
            match index.get(&gid) {
                Some(c) if c.is_group => {
                    ids.extend(index.children(&gid).iter().map(|m| m.id.to_string()));
                }
                Some(_) => {
                    return Err(ApiError::invalid(
                        "incident.component_group_ids",
                        format!("'{g}' is a component, not a group; name it in component_ids"),
                    ));
                }
                None => {
                    return Err(ApiError::invalid(
                        "incident.component_group_ids",
                        format!("component group '{g}' does not exist"),
                    ));
                }
            }
        }
        b.component_ids = Some(ids);
    }
    let Some(id) = b.template_id.take() else {
        return Ok(b);
    };
    let mut named: Vec<ComponentId> = b
        .components
        .as_ref()
        .map(|m| m.keys().cloned().map(ComponentId::from).collect())
        .unwrap_or_default();
    named.extend(
        b.component_ids
            .iter()
            .flatten()
            .cloned()
            .map(ComponentId::from),
    );
    let now = state.clock.now();
    let f = super::templates::fill(
        state,
        &view,
        &id,
        super::templates::Given {
            name: b.name.as_deref(),
            body: b.body.as_deref(),
            status: b.status,
            components: named,
            next_update_in_minutes: b.next_update_in_minutes,
            next_update_due_at: b.next_update_due_at,
            scheduled_for: b.scheduled_for,
            scheduled_until: b.scheduled_until,
            started_at: b.started_at,
            vars: b.template_vars.as_ref(),
        },
        current,
        now,
        body_target,
    )
    .await?;
    b.name = b.name.or(f.name);
    b.body = b.body.or(f.body);
    b.status = b.status.or(f.status);
    if b.components.is_none() && b.component_ids.is_none() && !f.component_ids.is_empty() {
        b.component_ids = Some(f.component_ids.iter().map(|c| c.to_string()).collect());
    }
    if b.next_update_due_at.is_none() {
        b.next_update_due_at = f.promise;
        b.next_update_in_minutes = None;
    }
    b.deliver_notifications = b.deliver_notifications.or(Some(f.deliver_notifications));
    b.template_used = Some(f.template_name);
    Ok(b)
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<IncidentBody>,
) -> Result<HttpResponse, ApiError> {
    let b = templated(&state, b, None).await?;
    let c = b.into_changes()?;
    let (out, shown) = commit(&state, &actor, async |w| incidents::create(w, c).await)
        .await
        .map_err(|e| e.in_body(IncidentBody::KEY))?;
    let doc = render_one(&state, &out.incident).await?;
    shown.wait(&state).await;
    Ok(created(&doc))
}

/// What a create or an update would do: the incident as it would stand, the new
/// update's text and promise, and whom it would tell with what.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PreviewDoc {
    /// The incident as the change would leave it (what does not exist yet has the id
    /// `preview`).
    pub incident: IncidentDoc,
    pub name: String,
    pub status: IncidentStatus,
    /// The text of the update the change posts, if it posts one.
    pub body: Option<String>,
    /// The promised next update, if any.
    pub next_update_due_at: Option<String>,
    /// The template used, if any.
    pub template: Option<String>,
    #[serde(flatten)]
    pub told: crate::notify::preview::Told,
}

async fn preview_doc(state: &AppState, out: &incidents::Outcome) -> Result<HttpResponse, ApiError> {
    let i = &out.incident;
    let posted = out.posted_update.then(|| i.updates.first()).flatten();
    let told = if out.unchanged {
        state.notifier.preview(i, &[]).await?
    } else {
        state.notifier.preview(i, &out.events).await?
    };
    let view = View::load(state).await?;
    Ok(ok(&PreviewDoc {
        incident: render_one(state, i).await?,
        name: i.name.clone(),
        status: i.status,
        body: posted.map(|u| u.body.clone()),
        next_update_due_at: view.ctx.ts_opt(i.next_update_due_at),
        template: posted.and_then(|u| u.template.clone()),
        told,
    }))
}

pub async fn preview_create(
    state: web::Data<AppState>,
    Envelope(b): Envelope<IncidentBody>,
) -> Result<HttpResponse, ApiError> {
    let b = templated(&state, b, None).await?;
    let c = b.into_changes()?;
    let out = incidents::preview_create(
        state.store.db(),
        state.store.page_id(),
        c,
        state.clock.now(),
    )
    .await
    .map_err(|e| ApiError::from(e).in_body(IncidentBody::KEY))?;
    preview_doc(&state, &out).await
}

pub async fn preview_update(
    state: web::Data<AppState>,
    path: One,
    Envelope(b): Envelope<IncidentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = incident_id(path);
    let current = incidents::get(state.store.db(), &id).await?;
    let b = templated(&state, b, Some(&current)).await?;
    let c = Command::Change(b.into_changes()?);
    let out = incidents::preview_apply(
        state.store.db(),
        state.store.page_id(),
        &id,
        c,
        state.clock.now(),
    )
    .await
    .map_err(|e| ApiError::from(e).in_body(IncidentBody::KEY))?;
    preview_doc(&state, &out).await
}

/// Applies a command to the incident in `path`.
async fn command(
    state: &AppState,
    actor: &Actor,
    id: &IncidentId,
    command: Command,
    key: &str,
) -> Result<(incidents::Outcome, Shown), ApiError> {
    commit(state, actor, async |w| {
        incidents::apply(w, id, command).await
    })
    .await
    .map_err(|e| e.in_body(key))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Change(b): Change<IncidentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = incident_id(path);
    let Some(b) = b else {
        // Nothing to change: the incident as it is, nothing written.
        let incident = incidents::get(state.store.db(), &id).await?;
        return Ok(ok(&render_one(&state, &incident).await?));
    };
    let b = if b.template_id.is_some() {
        let current = incidents::get(state.store.db(), &id).await?;
        templated(&state, b, Some(&current)).await?
    } else {
        templated(&state, b, None).await?
    };
    let c = Command::Change(b.into_changes()?);
    let (out, shown) = command(&state, &actor, &id, c, IncidentBody::KEY).await?;
    let doc = render_one(&state, &out.incident).await?;
    shown.wait(&state).await;
    Ok(ok(&doc))
}

pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let id = incident_id(path);
    let (out, shown) = command(&state, &actor, &id, Command::Delete, IncidentBody::KEY).await?;
    let doc = render_one(&state, &out.incident).await?;
    shown.wait(&state).await;
    Ok(ok(&doc))
}

pub async fn edit_update(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String, String)>,
    Change(b): Change<IncidentUpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, incident_id, update_id) = path.into_inner();
    let (id, update_id) = (IncidentId::from(incident_id), UpdateId::from(update_id));
    let Some(b) = b else {
        let incident = incidents::get(state.store.db(), &id).await?;
        let u = incident
            .updates
            .iter()
            .find(|u| u.id == update_id)
            .ok_or_else(|| {
                ApiError::NotFound(format!("incident update '{update_id}' was not found"))
            })?;
        let view = View::load(&state).await?;
        return Ok(ok(&update_doc(u, &view.ctx, Flavor::Manage)));
    };
    let c = Command::EditUpdate {
        update_id: update_id.clone(),
        body: b.body,
        display_at: b.display_at,
        deliver_notifications: b.deliver_notifications,
    };
    let (out, shown) = command(&state, &actor, &id, c, IncidentUpdateBody::KEY).await?;
    shown.wait(&state).await;
    let u = out
        .incident
        .updates
        .iter()
        .find(|u| u.id == update_id)
        .ok_or_else(|| ApiError::Internal("the edited update is gone".into()))?;
    let view = View::load(&state).await?;
    Ok(ok(&update_doc(u, &view.ctx, Flavor::Manage)))
}

async fn postmortem(
    state: &AppState,
    actor: &Actor,
    path: One,
    action: PostmortemAction,
) -> Result<HttpResponse, ApiError> {
    let id = incident_id(path);
    let (out, shown) = command(
        state,
        actor,
        &id,
        Command::Postmortem(action),
        PostmortemBody::KEY,
    )
    .await?;
    shown.wait(state).await;
    let view = View::load(state).await?;
    Ok(ok(&postmortem_doc(&out.incident, &view)))
}

/// An incident's postmortem: the published text and the draft.
pub async fn get_postmortem(
    state: web::Data<AppState>,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let id = incident_id(path);
    let i = crate::store::incidents::get(state.store.db(), &id).await?;
    let view = View::load(&state).await?;
    Ok(ok(&postmortem_doc(&i, &view)))
}

fn postmortem_doc(i: &crate::domain::Incident, view: &View) -> PostmortemDoc {
    let ts = |t| view.ctx.ts_opt(t);
    PostmortemDoc {
        preview_key: None,
        body: i.postmortem_published_body.clone(),
        body_updated_at: ts(i.postmortem_published_at),
        body_draft: i.postmortem_body.clone(),
        body_draft_updated_at: ts(i.postmortem_body_last_updated_at),
        published_at: ts(i.postmortem_published_at),
        notify_subscribers: i.postmortem_notified_subscribers,
        notify_twitter: false,
        custom_tweet: None,
    }
}

pub async fn draft(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<PostmortemBody>,
) -> Result<HttpResponse, ApiError> {
    let Some(body) = b.body_draft.filter(|b| !b.trim().is_empty()) else {
        return Err(ApiError::invalid(
            "postmortem.body_draft",
            "postmortem.body_draft is required: the postmortem in Markdown (DELETE removes it)",
        ));
    };
    postmortem(&state, &actor, path, PostmortemAction::Draft(body)).await
}

pub async fn publish(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<PublishBody>,
) -> Result<HttpResponse, ApiError> {
    let action = PostmortemAction::Publish {
        notify_subscribers: b.notify_subscribers.unwrap_or(false),
    };
    postmortem(&state, &actor, path, action).await
}

pub async fn revert(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    postmortem(&state, &actor, path, PostmortemAction::Revert).await
}

pub async fn delete_postmortem(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    postmortem(&state, &actor, path, PostmortemAction::Delete).await
}
