//! Declaring an incident, its page, posting updates, resolving and reopening. Every
//! form becomes the admin API's request body (`IncidentBody`) and goes through the same
//! template filling, conversion and write as `POST`/`PATCH .../incidents`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, http::StatusCode, web};
use serde::Serialize;

use super::auth::{Form, Posted, Signed, Viewing};
use super::dashboard::board;
use super::pages::{self, Frame, frame, render, said, see_other, tz_of};
use crate::app::AppState;
use crate::domain::{
    Component, ComponentStatus, Incident, IncidentId, IncidentStatus, template::Target,
    user::countdown,
};
use crate::http::{
    error::ApiError,
    v1::{
        commit,
        incidents::{IncidentBody, templated, templated_as},
    },
};
use crate::notify::preview::Told;
use crate::render::time::{TimeView, time_view};
use crate::store::{
    StoreError, components,
    incidents::{self, Command},
};

/// The statuses an incident may be declared or updated with.
const OPEN: [IncidentStatus; 3] = [
    IncidentStatus::Investigating,
    IncidentStatus::Identified,
    IncidentStatus::Monitoring,
];

/// What a component may be set to from an incident.
const COMPONENT_STATUSES: [ComponentStatus; 5] = [
    ComponentStatus::DegradedPerformance,
    ComponentStatus::PartialOutage,
    ComponentStatus::MajorOutage,
    ComponentStatus::UnderMaintenance,
    ComponentStatus::Operational,
];

#[derive(Debug, Serialize)]
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub(super) fn options<T: Copy + PartialEq>(
    all: &[T],
    chosen: Option<T>,
    text: impl Fn(T) -> (&'static str, &'static str),
) -> Vec<Opt> {
    all.iter()
        .map(|&s| {
            let (value, label) = text(s);
            Opt {
                value: value.to_owned(),
                label: label.to_owned(),
                selected: chosen == Some(s),
            }
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub(super) struct PickComponent {
    id: String,
    name: String,
    ticked: bool,
    statuses: Vec<Opt>,
}

#[derive(Debug, Serialize)]
pub(super) struct PickGroup {
    name: Option<String>,
    components: Vec<PickComponent>,
}

/// The components by group, each with a tick and the status it takes.
fn picker(all: &[Component], ticked: &BTreeMap<String, ComponentStatus>) -> Vec<PickGroup> {
    picker_with(all, ticked, ComponentStatus::MajorOutage)
}

/// The picker with `default` chosen for components not ticked.
pub(super) fn picker_with(
    all: &[Component],
    ticked: &BTreeMap<String, ComponentStatus>,
    default: ComponentStatus,
) -> Vec<PickGroup> {
    board(all)
        .into_iter()
        .map(|g| PickGroup {
            name: g.name,
            components: g
                .components
                .into_iter()
                .map(|c| {
                    let chosen = ticked.get(&c.id).copied();
                    PickComponent {
                        ticked: chosen.is_some(),
                        statuses: options(
                            &COMPONENT_STATUSES,
                            Some(chosen.unwrap_or(default)),
                            |s| (s.as_str(), s.label()),
                        ),
                        id: c.id,
                        name: c.name,
                    }
                })
                .collect(),
        })
        .filter(|g| !g.components.is_empty())
        .collect()
}

/// The ticked components of a form (`affected[]`) with their statuses (`status_of[ID]`).
fn ticked(form: &Form) -> BTreeMap<String, ComponentStatus> {
    ticked_with(form, ComponentStatus::MajorOutage)
}

/// The ticked components, `default` for one posted without a status.
pub(super) fn ticked_with(
    form: &Form,
    default: ComponentStatus,
) -> BTreeMap<String, ComponentStatus> {
    let statuses: BTreeMap<String, String> = form.map("status_of").into_iter().collect();
    form.list("affected")
        .into_iter()
        .take(crate::domain::component::MAX_MEMBERS)
        .map(|id| {
            let s = statuses
                .get(&id)
                .and_then(|s| s.parse().ok())
                .unwrap_or(default);
            (id, s)
        })
        .collect()
}

/// What a declare or update form says, as the API's body.
struct Draft {
    template_id: Option<String>,
    name: Option<String>,
    status: Option<IncidentStatus>,
    body: Option<String>,
    components: BTreeMap<String, ComponentStatus>,
    minutes: Option<u32>,
    notify: bool,
}

impl Draft {
    fn read(form: &Form) -> Result<Draft, String> {
        let minutes = match form.text("next_update_in_minutes") {
            None => None,
            Some(m) => Some(m.parse::<u32>().map_err(|_| {
                "The next update must be promised in whole minutes (or left empty).".to_owned()
            })?),
        };
        let status = match form.text("status") {
            None => None,
            Some(s) => Some(
                s.parse::<IncidentStatus>()
                    .map_err(|_| format!("'{s}' is not a status an incident can have."))?,
            ),
        };
        Ok(Draft {
            template_id: form.text("template_id"),
            name: form.text("name"),
            status,
            body: form.text("body"),
            components: ticked(form),
            minutes,
            notify: form.ticked("deliver_notifications"),
        })
    }

    fn body(&self) -> IncidentBody {
        IncidentBody {
            template_id: self.template_id.clone(),
            name: self.name.clone(),
            status: self.status,
            body: self.body.clone(),
            components: (!self.components.is_empty()).then(|| self.components.clone()),
            next_update_in_minutes: self.minutes,
            deliver_notifications: Some(self.notify),
            ..IncidentBody::default()
        }
    }
}

#[derive(Debug, Serialize)]
struct Preview {
    name: String,
    status_label: &'static str,
    body_html: String,
    next_update: Option<TimeView>,
    notifies: bool,
    /// "312 subscribers, 4 tenants, 2 webhooks will be told".
    audience: String,
}

pub(super) fn audience_text(t: &Told) -> String {
    let a = &t.audience;
    let email = a.channels.get("email").copied().unwrap_or(0);
    let hooks = a.total.saturating_sub(email);
    let n = |k: u64, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    format!(
        "{}, {}, {} will be told",
        n(a.people, "subscriber", "subscribers"),
        n(a.tenants.len() as u64, "tenant", "tenants"),
        n(hooks, "webhook", "webhooks")
    )
}

fn preview_view(state: &AppState, i: &Incident, told: &Told, tz: chrono_tz::Tz) -> Preview {
    let body = i
        .updates
        .first()
        .map(|u| u.body.as_str())
        .unwrap_or_default();
    Preview {
        name: i.name.clone(),
        status_label: i.status.label(),
        body_html: state.snapshots.markdown().html(body).to_string(),
        next_update: i.next_update_due_at.map(|t| time_view(t, tz)),
        notifies: told.notifies,
        audience: if told.notifies {
            audience_text(told)
        } else {
            "Nobody will be told: notifications are off for this change.".to_owned()
        },
    }
}

#[derive(Debug, Serialize)]
struct TemplateOpt {
    id: String,
    name: String,
    selected: bool,
}

#[derive(Serialize)]
struct DeclareView {
    layout: Frame,
    templates: Vec<TemplateOpt>,
    name: String,
    body: String,
    statuses: Vec<Opt>,
    groups: Vec<PickGroup>,
    minutes: String,
    notify: bool,
    preview: Option<Preview>,
    error: Option<String>,
}

async fn declare_page(
    state: &AppState,
    who: &Signed,
    status: StatusCode,
    d: &Draft,
    preview: Option<Preview>,
    error: Option<String>,
) -> HttpResponse {
    let db = state.store.db();
    let page = state.store.page_id();
    let loaded = async {
        let all = components::list(db, page).await?;
        let templates = crate::store::templates::list(db, page, 500, 0).await?;
        Ok::<_, StoreError>((all, templates))
    }
    .await;
    let (all, templates) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "the declare form");
            return pages::unavailable(state);
        }
    };
    let view = DeclareView {
        layout: frame(state, "Declare an incident", Some(who), "declare"),
        templates: templates
            .iter()
            .filter(|t| crate::store::templates::status(t).is_none_or(|s| !s.is_maintenance()))
            .map(|t| TemplateOpt {
                id: t.id.clone(),
                name: t.name.clone(),
                selected: d.template_id.as_deref() == Some(t.id.as_str()),
            })
            .collect(),
        name: d.name.clone().unwrap_or_default(),
        body: d.body.clone().unwrap_or_default(),
        statuses: options(
            &OPEN,
            Some(d.status.unwrap_or(IncidentStatus::Investigating)),
            |s| (s.as_str(), s.label()),
        ),
        groups: picker(&all, &d.components),
        minutes: d.minutes.map(|m| m.to_string()).unwrap_or_default(),
        notify: d.notify,
        preview,
        error,
    };
    render(state, status, "admin/declare", &view)
}

pub async fn declare_form(state: web::Data<AppState>, Viewing(who): Viewing) -> HttpResponse {
    declare_page(&state, &who, StatusCode::OK, &blank_draft(), None, None).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn declare(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let mut d = match Draft::read(&p.form) {
        Ok(d) => d,
        Err(m) => {
            let d = blank_draft();
            return declare_page(
                &state,
                &p.who,
                StatusCode::UNPROCESSABLE_ENTITY,
                &d,
                None,
                Some(m),
            )
            .await;
        }
    };
    let publish = p.form.str("action") == "publish";
    // Previewed, the template's text goes into the form for the responder to read and
    // edit: escaped only where Markdown would act on a value (it renders the same).
    let target = if publish {
        Target::Markdown
    } else {
        Target::Editing
    };
    let filled = match templated_as(&state, d.body(), None, target).await {
        Ok(b) => b,
        Err(e) => {
            return declare_page(
                &state,
                &p.who,
                StatusCode::UNPROCESSABLE_ENTITY,
                &d,
                None,
                Some(said(&e)),
            )
            .await;
        }
    };
    if !publish {
        // The form comes back with the template's text in place, to edit or publish.
        d.name = filled.name.clone().or(d.name);
        d.body = filled.body.clone().or(d.body);
        d.status = filled.status.or(d.status);
        let previewed = async {
            let c = filled.into_changes()?;
            let out = incidents::preview_create(
                state.store.db(),
                state.store.page_id(),
                c,
                state.clock.now(),
            )
            .await?;
            let told = state.notifier.preview(&out.incident, &out.events).await?;
            Ok::<_, ApiError>(preview_view(&state, &out.incident, &told, tz_of(&state)))
        }
        .await;
        return match previewed {
            Ok(pv) => declare_page(&state, &p.who, StatusCode::OK, &d, Some(pv), None).await,
            Err(e) => {
                declare_page(
                    &state,
                    &p.who,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &d,
                    None,
                    Some(said(&e)),
                )
                .await
            }
        };
    }
    let created = async {
        let c = filled.into_changes()?;
        commit(&state, &p.who.actor, async |w| {
            incidents::create(w, c).await
        })
        .await
    }
    .await;
    match created {
        Ok((out, shown)) => {
            shown.wait(&state).await;
            see_other(format!(
                "{}/admin/incidents/{}?done=published",
                state.base, out.incident.id
            ))
        }
        Err(e) => {
            declare_page(
                &state,
                &p.who,
                StatusCode::UNPROCESSABLE_ENTITY,
                &d,
                None,
                Some(said(&e)),
            )
            .await
        }
    }
}

/// A form with nothing filled in (notifications on).
fn blank_draft() -> Draft {
    Draft {
        template_id: None,
        name: None,
        status: None,
        body: None,
        components: BTreeMap::new(),
        minutes: None,
        notify: true,
    }
}

#[derive(Debug, Serialize)]
struct UpdateRow {
    status_label: &'static str,
    at: TimeView,
    body_html: String,
    notified: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct DeliveryCount {
    channel: String,
    counts: String,
}

/// An incident's deliveries by channel, each as "3 delivered, 1 failed".
pub(super) fn delivery_counts(
    counts: &BTreeMap<String, BTreeMap<String, u64>>,
) -> Vec<DeliveryCount> {
    counts
        .iter()
        .map(|(channel, states)| DeliveryCount {
            channel: channel.clone(),
            counts: states
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect()
}

#[derive(Serialize)]
struct IncidentView {
    layout: Frame,
    id: String,
    name: String,
    status: &'static str,
    status_label: &'static str,
    impact: &'static str,
    is_open: bool,
    is_maintenance: bool,
    started: TimeView,
    resolved: Option<TimeView>,
    next_update: Option<TimeView>,
    countdown: Option<crate::domain::user::Countdown>,
    public_url: String,
    updates: Vec<UpdateRow>,
    deliveries: Vec<DeliveryCount>,
    statuses: Vec<Opt>,
    reopen_statuses: Vec<Opt>,
    groups: Vec<PickGroup>,
    body: String,
    minutes: String,
    has_postmortem: bool,
    notice: Option<&'static str>,
    error: Option<String>,
    preview: Option<Preview>,
}

struct Extra {
    status: StatusCode,
    d: Option<Draft>,
    notice: Option<&'static str>,
    error: Option<String>,
    preview: Option<Preview>,
}

impl Extra {
    fn none() -> Extra {
        Extra {
            status: StatusCode::OK,
            d: None,
            notice: None,
            error: None,
            preview: None,
        }
    }
}

async fn incident_page(state: &AppState, who: &Signed, id: &IncidentId, x: Extra) -> HttpResponse {
    let db = state.store.db();
    let loaded = async {
        let i = incidents::get(db, id).await?;
        let all = components::list(db, state.store.page_id()).await?;
        let counts = crate::store::deliveries::counts_for_incident(db, id).await?;
        Ok::<_, StoreError>((i, all, counts))
    }
    .await;
    let (i, all, counts) = match loaded {
        Ok(x) => x,
        Err(StoreError::NotFound { .. }) => return pages::not_found(state, Some(who), "incident"),
        Err(e) => {
            tracing::error!(error = %e, "the console incident page");
            return pages::unavailable(state);
        }
    };
    let tz = tz_of(state);
    let now = state.clock.now();
    let md = state.snapshots.markdown();
    // The form starts from the components' statuses now.
    let live: BTreeMap<String, ComponentStatus> = i
        .components
        .iter()
        .filter_map(|(cid, _)| {
            all.iter()
                .find(|c| &c.id == cid)
                .map(|c| (cid.to_string(), c.status))
        })
        .collect();
    let d = x.d.as_ref();
    let ticked = d.map_or(live, |d| d.components.clone());
    let open = i.status.is_open();
    let view = IncidentView {
        layout: frame(state, &i.name, Some(who), "incident"),
        id: i.id.to_string(),
        name: i.name.clone(),
        status: i.status.as_str(),
        status_label: i.status.label(),
        impact: i.impact.as_str(),
        is_open: open,
        is_maintenance: i.scheduled_for.is_some(),
        started: time_view(i.started_at, tz),
        resolved: i.resolved_at.map(|t| time_view(t, tz)),
        next_update: i
            .next_update_due_at
            .filter(|_| open)
            .map(|t| time_view(t, tz)),
        countdown: i
            .next_update_due_at
            .filter(|_| open)
            .map(|t| countdown(t, now)),
        public_url: format!("{}/incidents/{}", state.base, i.id),
        updates: i
            .updates
            .iter()
            .map(|u| UpdateRow {
                status_label: u.status.label(),
                at: time_view(u.display_at, tz),
                body_html: md.html(&u.body).to_string(),
                notified: u.deliver_notifications,
            })
            .collect(),
        deliveries: delivery_counts(&counts),
        statuses: options(
            &OPEN,
            Some(d.and_then(|d| d.status).unwrap_or(if open {
                i.status
            } else {
                IncidentStatus::Investigating
            })),
            |s| (s.as_str(), s.label()),
        ),
        reopen_statuses: options(&OPEN, Some(IncidentStatus::Investigating), |s| {
            (s.as_str(), s.label())
        }),
        groups: picker(&all, &ticked),
        body: d.and_then(|d| d.body.clone()).unwrap_or_default(),
        minutes: d
            .and_then(|d| d.minutes)
            .map(|m| m.to_string())
            .unwrap_or_default(),
        has_postmortem: !open && i.scheduled_for.is_none(),
        notice: x.notice,
        error: x.error,
        preview: x.preview,
    };
    render(state, x.status, "admin/incident", &view)
}

fn notice_of(req: &actix_web::HttpRequest) -> Option<&'static str> {
    let done = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.into_owned())?;
    match done.as_str() {
        "published" => Some("The incident is published on the status page."),
        "updated" => Some("The update is posted."),
        "resolved" => Some("The incident is resolved."),
        "reopened" => Some("The incident is open again."),
        _ => None,
    }
}

pub async fn page(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    let mut x = Extra::none();
    x.notice = notice_of(&req);
    incident_page(&state, &who, &id, x).await
}

/// Applies `b` to the incident as `PATCH .../incidents/{id}` does, then shows it.
async fn change(
    state: &AppState,
    p: &Posted,
    id: &IncidentId,
    b: IncidentBody,
    done: &str,
    d: Draft,
) -> HttpResponse {
    let applied = async {
        let b = if b.template_id.is_some() {
            let current = incidents::get(state.store.db(), id).await?;
            templated(state, b, Some(&current)).await?
        } else {
            templated(state, b, None).await?
        };
        let c = Command::Change(b.into_changes()?);
        commit(state, &p.who.actor, async |w| {
            incidents::apply(w, id, c).await
        })
        .await
    }
    .await;
    match applied {
        Ok((_, shown)) => {
            shown.wait(state).await;
            see_other(format!("{}/admin/incidents/{id}?done={done}", state.base))
        }
        Err(ApiError::NotFound(_)) => pages::not_found(state, Some(&p.who), "incident"),
        Err(e) => {
            let x = Extra {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                d: Some(d),
                notice: None,
                error: Some(said(&e)),
                preview: None,
            };
            incident_page(state, &p.who, id, x).await
        }
    }
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id, incident))]
pub async fn update(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    tracing::Span::current().record("incident", id.as_str());
    let d = match Draft::read(&p.form) {
        Ok(d) => d,
        Err(m) => {
            let x = Extra {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                d: None,
                notice: None,
                error: Some(m),
                preview: None,
            };
            return incident_page(&state, &p.who, &id, x).await;
        }
    };
    if p.form.str("action") == "preview" {
        let previewed = async {
            let current = incidents::get(state.store.db(), &id).await?;
            let b = templated(&state, d.body(), Some(&current)).await?;
            let c = Command::Change(b.into_changes()?);
            let out = incidents::preview_apply(
                state.store.db(),
                state.store.page_id(),
                &id,
                c,
                state.clock.now(),
            )
            .await?;
            let told = state.notifier.preview(&out.incident, &out.events).await?;
            Ok::<_, ApiError>(preview_view(&state, &out.incident, &told, tz_of(&state)))
        }
        .await;
        let (status, preview, error) = match previewed {
            Ok(pv) => (StatusCode::OK, Some(pv), None),
            Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(said(&e))),
        };
        let x = Extra {
            status,
            d: Some(d),
            notice: None,
            error,
            preview,
        };
        return incident_page(&state, &p.who, &id, x).await;
    }
    let b = d.body();
    change(&state, &p, &id, b, "updated", d).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id, incident))]
pub async fn resolve(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    tracing::Span::current().record("incident", id.as_str());
    let b = IncidentBody {
        status: Some(IncidentStatus::Resolved),
        body: p.form.text("body"),
        deliver_notifications: Some(p.form.ticked("deliver_notifications")),
        ..IncidentBody::default()
    };
    let d = blank_draft();
    change(&state, &p, &id, b, "resolved", d).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id, incident))]
pub async fn reopen(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    tracing::Span::current().record("incident", id.as_str());
    let status = p
        .form
        .text("status")
        .and_then(|s| s.parse::<IncidentStatus>().ok())
        .filter(|s| OPEN.contains(s))
        .unwrap_or(IncidentStatus::Investigating);
    let b = IncidentBody {
        status: Some(status),
        body: p.form.text("body"),
        deliver_notifications: Some(p.form.ticked("deliver_notifications")),
        ..IncidentBody::default()
    };
    let d = blank_draft();
    change(&state, &p, &id, b, "reopened", d).await
}
