use std::collections::BTreeMap;

use actix_web::{HttpResponse, http::Method, web};
use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Paging, View, created, nullable, ok, write};
use crate::domain::{
    ComponentStatus, Impact, IncidentStatus,
    Role::{Responder, Viewer},
};
use crate::http::{
    AppState,
    body::{Envelope, Enveloped},
    error::ApiError,
    lenient,
    routes::RouteTable,
};
use crate::render::statuspage::{Flavor, IncidentDoc, IncidentUpdateDoc, incident_doc, update_doc};
use crate::store::{
    Actor,
    incidents::{self, Changes, Filter, Incident, PostmortemAction},
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
    .returns_list::<IncidentDoc>();
    t.add(
        M::POST,
        base,
        Responder,
        tag,
        "Open an incident (or schedule a maintenance with `scheduled_for`)",
        create,
    )
    .body::<IncidentBody>()
    .returns::<IncidentDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/incidents/unresolved",
        Viewer,
        tag,
        "Unresolved incidents",
        unresolved,
    )
    .returns_list::<IncidentDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/incidents/scheduled",
        Viewer,
        tag,
        "Scheduled maintenances not started",
        scheduled,
    )
    .returns_list::<IncidentDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/incidents/upcoming",
        Viewer,
        tag,
        "Upcoming maintenances",
        scheduled,
    )
    .returns_list::<IncidentDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/incidents/active_maintenance",
        Viewer,
        tag,
        "Maintenances in progress or verifying",
        active_maintenance,
    )
    .returns_list::<IncidentDoc>();
    t.add(
        M::GET,
        one,
        Viewer,
        tag,
        "Get an incident with its updates, newest first",
        get,
    )
    .returns::<IncidentDoc>();
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
        M::PUT,
        pm,
        Responder,
        "postmortems",
        "Save the postmortem draft (Markdown); the incident must be resolved",
        draft,
    )
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
    pub deliver_notifications: Option<bool>,
    /// When the impact began, if before the incident was posted.
    pub started_at: Option<DateTime<Utc>>,
    /// When the impact ended (resolved incidents only).
    pub resolved_at: Option<DateTime<Utc>>,
    pub metadata: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub backfilled: Option<bool>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub scheduled_remind_prior: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub scheduled_auto_in_progress: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub scheduled_auto_completed: Option<bool>,
    /// Herald: promise the next update within this many minutes (shown on the page).
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub next_update_in_minutes: Option<u32>,
    /// Herald: promise the next update by this time.
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub custom_tweet: Option<String>,
}

impl Enveloped for IncidentBody {
    const KEY: &'static str = "incident";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct IncidentUpdateBody {
    pub body: Option<String>,
    pub display_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub deliver_notifications: Option<bool>,
}

impl Enveloped for IncidentUpdateBody {
    const KEY: &'static str = "incident_update";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PostmortemBody {
    /// The postmortem in Markdown.
    pub body_draft: Option<String>,
}

impl Enveloped for PostmortemBody {
    const KEY: &'static str = "postmortem";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PublishBody {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
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

fn changes(b: IncidentBody, now: DateTime<Utc>) -> Result<Changes, ApiError> {
    let mut comps: Vec<(String, Option<ComponentStatus>)> = b
        .components
        .unwrap_or_default()
        .into_iter()
        .map(|(id, s)| (id, Some(s)))
        .collect();
    for id in b.component_ids.unwrap_or_default() {
        if !comps.iter().any(|(c, _)| *c == id) {
            comps.push((id, None));
        }
    }
    if b.next_update_in_minutes
        .is_some_and(|m| m == 0 || m > 60 * 24 * 7)
    {
        return Err(ApiError::invalid(
            "incident.next_update_in_minutes",
            "must be between 1 and 10080 minutes",
        ));
    }
    let next = b.next_update_due_at.or_else(|| {
        b.next_update_in_minutes
            .map(|m| now + Duration::minutes(i64::from(m)))
    });
    Ok(Changes {
        name: b.name,
        status: b.status,
        body: b.body,
        impact_override: b.impact_override,
        components: comps,
        deliver_notifications: b.deliver_notifications,
        started_at: b.started_at,
        resolved_at: b.resolved_at,
        metadata: b.metadata,
        backfilled: b.backfilled,
        scheduled_for: b.scheduled_for,
        scheduled_until: b.scheduled_until,
        scheduled_remind_prior: b.scheduled_remind_prior,
        scheduled_auto_in_progress: b.scheduled_auto_in_progress,
        scheduled_auto_completed: b.scheduled_auto_completed,
        next_update_due_at: next,
        template: None,
        custom_tweet: b.custom_tweet,
    })
}

async fn render(state: &AppState, incidents: &[Incident]) -> Result<Vec<IncidentDoc>, ApiError> {
    let view = View::load(state).await?;
    let index = view.index();
    Ok(incidents
        .iter()
        .map(|i| incident_doc(i, &index, &view.ctx, Flavor::Manage))
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
    let all = incidents::list(
        state.store.db(),
        state.store.page_id(),
        filter,
        paging.q.as_deref(),
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

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let incident = incidents::get(state.store.db(), &path.1).await?;
    Ok(ok(&render_one(&state, &incident).await?))
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<IncidentBody>,
) -> Result<HttpResponse, ApiError> {
    if b.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(ApiError::invalid(
            "incident.name",
            "incident.name is required",
        ));
    }
    let c = changes(b, Utc::now())?;
    let incident = write(&state, &actor, async |w| incidents::create(w, c).await).await?;
    Ok(created(&render_one(&state, &incident).await?))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<IncidentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let c = changes(b, Utc::now())?;
    let incident = write(&state, &actor, async |w| incidents::update(w, &id, c).await).await?;
    Ok(ok(&render_one(&state, &incident).await?))
}

pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let before = incidents::get(state.store.db(), &id).await?;
    let doc = render_one(&state, &before).await?;
    write(&state, &actor, async |w| incidents::delete(w, &id).await).await?;
    Ok(ok(&doc))
}

pub async fn edit_update(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String, String)>,
    Envelope(b): Envelope<IncidentUpdateBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, incident_id, update_id) = path.into_inner();
    let u = write(&state, &actor, async |w| {
        incidents::edit_update(
            w,
            &incident_id,
            &update_id,
            b.body,
            b.display_at,
            b.deliver_notifications,
        )
        .await
    })
    .await?;
    let view = View::load(&state).await?;
    Ok(ok(&update_doc(&u, &view.ctx, Flavor::Manage)))
}

async fn postmortem(
    state: &AppState,
    actor: &Actor,
    id: String,
    action: PostmortemAction,
) -> Result<HttpResponse, ApiError> {
    let i = write(state, actor, async |w| {
        incidents::postmortem(w, &id, action).await
    })
    .await?;
    let view = View::load(state).await?;
    let ts = |t| view.ctx.ts_opt(t);
    Ok(ok(&PostmortemDoc {
        preview_key: None,
        body: i.postmortem_published_at.and(i.postmortem_body.clone()),
        body_updated_at: i
            .postmortem_published_at
            .and(ts(i.postmortem_body_last_updated_at)),
        body_draft: i.postmortem_body.clone(),
        body_draft_updated_at: ts(i.postmortem_body_last_updated_at),
        published_at: ts(i.postmortem_published_at),
        notify_subscribers: i.postmortem_notified_subscribers,
        notify_twitter: false,
        custom_tweet: None,
    }))
}

pub async fn draft(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<PostmortemBody>,
) -> Result<HttpResponse, ApiError> {
    let Some(body) = b.body_draft else {
        return Err(ApiError::invalid(
            "postmortem.body_draft",
            "postmortem.body_draft is required",
        ));
    };
    postmortem(
        &state,
        &actor,
        path.into_inner().1,
        PostmortemAction::Draft(body),
    )
    .await
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
    postmortem(&state, &actor, path.into_inner().1, action).await
}

pub async fn revert(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    postmortem(
        &state,
        &actor,
        path.into_inner().1,
        PostmortemAction::Revert,
    )
    .await
}

pub async fn delete_postmortem(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    postmortem(
        &state,
        &actor,
        path.into_inner().1,
        PostmortemAction::Delete,
    )
    .await
}
