//! Recurring maintenance (Herald's addition, in the Statuspage style): a series makes one
//! maintenance per occurrence of its RFC 5545 rule, in its IANA time zone.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, http::Method, web};
use chrono::Duration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, created, ok, write};
use crate::app::AppState;
use crate::domain::{
    ComponentId, ComponentStatus, IncidentId,
    Role::{Responder, Viewer},
    series::Template,
};
use crate::http::{
    body::{Envelope, Enveloped},
    error::ApiError,
    lenient,
    routes::RouteTable,
};
use crate::store::{
    Actor,
    series::{self, Series, SeriesChanges},
};

pub fn routes(t: &mut RouteTable) {
    use Method as M;
    let base = "/v1/pages/{page_id}/maintenance_series";
    let one = "/v1/pages/{page_id}/maintenance_series/{series_id}";
    let tag = "maintenance series";
    t.add(
        M::GET,
        base,
        Viewer,
        tag,
        "List recurring maintenances",
        list,
    )
    .returns_list::<SeriesDoc>();
    t.add(
        M::POST,
        base,
        Responder,
        tag,
        "Schedule a recurring maintenance: an RFC 5545 rule in a time zone; each occurrence becomes its own maintenance",
        create,
    )
    .created()
    .requires(&["name", "rrule", "starts_at_local"])
    .body::<SeriesBody>()
    .returns::<SeriesDoc>();
    t.add(
        M::GET,
        one,
        Viewer,
        tag,
        "Get a recurring maintenance with its occurrences",
        get,
    )
    .returns::<SeriesDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            one,
            Responder,
            tag,
            "Edit the series: future occurrences not yet started follow (those the new rule drops are cancelled)",
            update,
        )
        .body::<SeriesBody>()
        .returns::<SeriesDoc>();
    }
    t.add(
        M::DELETE,
        one,
        Responder,
        tag,
        "End the series: occurrences not yet started are cancelled",
        delete,
    )
    .returns::<SeriesDoc>();
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SeriesBody {
    /// Each occurrence's name.
    #[schemars(length(min = 1, max = 255), regex(pattern = crate::http::routes::NAME_PATTERN))]
    pub name: Option<String>,
    /// Each occurrence's announcement (Markdown).
    #[schemars(length(max = 20000))]
    pub body: Option<String>,
    /// An RFC 5545 RRULE, such as `FREQ=WEEKLY;BYDAY=TU` (hourly or slower).
    #[schemars(length(min = 1, max = 500))]
    pub rrule: Option<String>,
    /// The first occurrence's start in `time_zone`, without a zone: `2026-03-17T02:00`.
    #[schemars(length(max = 40))]
    pub starts_at_local: Option<String>,
    /// An IANA time zone (default `Etc/UTC`): occurrences keep their local time across
    /// daylight-saving changes.
    #[schemars(with = "Option<super::pages::TimeZone>")]
    pub time_zone: Option<String>,
    /// Each window's length (default 60).
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    #[schemars(with = "Option<lenient::MinutesUpTo<10080>>")]
    pub duration_minutes: Option<u32>,
    /// Components and the status each takes, as on an incident.
    pub components: Option<BTreeMap<String, ComponentStatus>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub scheduled_remind_prior: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub scheduled_auto_in_progress: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub scheduled_auto_completed: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub auto_transition_deliver_notifications_at_start: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub auto_transition_deliver_notifications_at_end: Option<bool>,
    /// Minutes before each start that followers are reminded (with
    /// `scheduled_remind_prior`).
    #[schemars(length(max = 5), inner(range(min = 1, max = 43200)))]
    pub scheduled_reminders: Option<Vec<u32>>,
}

impl Enveloped for SeriesBody {
    const KEY: &'static str = "series";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OccurrenceDoc {
    pub starts_at: String,
    pub incident_id: IncidentId,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SeriesDoc {
    pub id: String,
    pub name: String,
    pub rrule: String,
    pub starts_at_local: String,
    pub time_zone: String,
    pub duration_minutes: u32,
    pub created_at: String,
    pub updated_at: String,
    /// When it was ended, if it was.
    pub ended_at: Option<String>,
    /// The occurrences made so far (each a maintenance), oldest first.
    pub occurrences: Vec<OccurrenceDoc>,
    /// The next starts the rule gives (up to five), in the page's zone.
    pub next_starts: Vec<String>,
}

async fn doc(state: &AppState, view: &View, s: Series) -> Result<SeriesDoc, ApiError> {
    let made = series::occurrences(state.store.db(), &s.id).await?;
    let now = state.clock.now();
    let next = match (s.ended_at, s.rule()) {
        (None, Ok(rule)) => rule.starts(now, now + Duration::days(3_660), 5),
        _ => Vec::new(),
    };
    Ok(SeriesDoc {
        name: s.template.name.clone(),
        rrule: s.rrule,
        starts_at_local: s.starts_at_local.format("%Y-%m-%dT%H:%M").to_string(),
        time_zone: s.time_zone,
        duration_minutes: s.duration_minutes,
        created_at: view.ctx.ts(s.created_at),
        updated_at: view.ctx.ts(s.updated_at),
        ended_at: view.ctx.ts_opt(s.ended_at),
        occurrences: made
            .into_iter()
            .map(|(at, incident_id)| OccurrenceDoc {
                starts_at: view.ctx.ts(at),
                incident_id,
            })
            .collect(),
        next_starts: next.into_iter().map(|t| view.ctx.ts(t)).collect(),
        id: s.id,
    })
}

/// The body as changes to `current` (none: a new series).
pub(crate) fn changes(b: SeriesBody, current: Option<&Series>) -> SeriesChanges {
    let templated = b.name.is_some()
        || b.body.is_some()
        || b.components.is_some()
        || b.scheduled_remind_prior.is_some()
        || b.scheduled_auto_in_progress.is_some()
        || b.scheduled_auto_completed.is_some()
        || b.auto_transition_deliver_notifications_at_start.is_some()
        || b.auto_transition_deliver_notifications_at_end.is_some()
        || b.scheduled_reminders.is_some();
    let template = templated.then(|| {
        let t = current.map(|s| s.template.clone()).unwrap_or_default();
        Template {
            name: b.name.unwrap_or(t.name),
            body: b.body.or(t.body),
            components: match b.components {
                Some(map) => map
                    .into_iter()
                    .map(|(id, s)| (ComponentId::from(id), Some(s)))
                    .collect(),
                None => t.components,
            },
            scheduled_remind_prior: b.scheduled_remind_prior.unwrap_or(t.scheduled_remind_prior),
            scheduled_auto_in_progress: b
                .scheduled_auto_in_progress
                .unwrap_or(current.is_none() || t.scheduled_auto_in_progress),
            scheduled_auto_completed: b
                .scheduled_auto_completed
                .unwrap_or(current.is_none() || t.scheduled_auto_completed),
            to_maintenance_state: t.to_maintenance_state,
            to_operational_state: t.to_operational_state,
            notify_at_start: b
                .auto_transition_deliver_notifications_at_start
                .or(t.notify_at_start),
            notify_at_end: b
                .auto_transition_deliver_notifications_at_end
                .or(t.notify_at_end),
            reminders: b.scheduled_reminders.or(t.reminders),
        }
    });
    SeriesChanges {
        rrule: b.rrule,
        starts_at_local: b.starts_at_local,
        time_zone: b.time_zone,
        duration_minutes: b.duration_minutes,
        template,
    }
}

type One = web::Path<(String, String)>;

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let mut out = Vec::new();
    for s in series::list(state.store.db(), state.store.page_id()).await? {
        out.push(doc(&state, &view, s).await?);
    }
    Ok(ok(&out))
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<SeriesBody>,
) -> Result<HttpResponse, ApiError> {
    let c = changes(b, None);
    let s = write(&state, &actor, async |w| series::create(w, c).await)
        .await
        .map_err(|e| e.in_body(SeriesBody::KEY))?;
    // The scheduler makes the occurrences within reach at its next pass (within a
    // second).
    let view = View::load(&state).await?;
    Ok(created(&doc(&state, &view, s).await?))
}

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let view = View::load(&state).await?;
    let s = series::get(state.store.db(), &id).await?;
    Ok(ok(&doc(&state, &view, s).await?))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<SeriesBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let current = series::get(state.store.db(), &id).await?;
    let c = changes(b, Some(&current));
    let s = write(&state, &actor, async |w| series::update(w, &id, c).await)
        .await
        .map_err(|e| e.in_body(SeriesBody::KEY))?;
    let view = View::load(&state).await?;
    Ok(ok(&doc(&state, &view, s).await?))
}

pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let s = write(&state, &actor, async |w| series::end(w, &id).await).await?;
    let view = View::load(&state).await?;
    Ok(ok(&doc(&state, &view, s).await?))
}
