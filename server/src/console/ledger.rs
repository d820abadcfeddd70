//! Who was told what: the delivery ledger of one incident (every delivery, by update,
//! channel and state, with its attempts), failed deliveries page-wide, redelivery of one
//! or of an incident's failed ones, and the audit log. Recipients are personal data, so
//! these pages need the role the API's ledger needs (admin); redelivery goes through the
//! API's own path (`v1::deliveries::redeliver`).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Serialize;

use super::auth::{Posted, Signed, Viewing};
use super::incidents::{DeliveryCount, delivery_counts};
use super::pages::{self, Frame, frame, render, see_other, tz_of};
use crate::app::AppState;
use crate::domain::{DeliveryState, IncidentId};
use crate::render::time::{TimeView, time_view};
use crate::store::{
    StoreError, audit,
    deliveries::{self, Entry},
    incidents,
};

/// Rows on a page of the ledger or the audit log.
const PAGE: u64 = 100;

/// A query string's fields (unknown ones ignored: these are people's pages).
fn query(req: &HttpRequest) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.into_owned(), v.trim().chars().take(256).collect()))
        .collect()
}

#[derive(Debug, Serialize)]
struct AttemptRow {
    at: TimeView,
    outcome: String,
    error: Option<String>,
    status_code: Option<i32>,
    duration_ms: i32,
}

#[derive(Debug, Serialize)]
struct DeliveryRow {
    id: i64,
    state: String,
    given_up: bool,
    channel: String,
    recipient: String,
    incident_id: Option<String>,
    /// Which update it told ("Investigating, 14:02"), on an incident's ledger.
    update: Option<String>,
    error: Option<String>,
    made: TimeView,
    delivered: Option<TimeView>,
    attempts: Vec<AttemptRow>,
}

fn row(e: Entry, tz: chrono_tz::Tz, updates: &BTreeMap<String, String>) -> DeliveryRow {
    let d = e.delivery;
    DeliveryRow {
        id: d.id,
        given_up: matches!(
            d.state,
            DeliveryState::Failed | DeliveryState::Dead | DeliveryState::Cancelled
        ),
        state: d.state.to_string(),
        channel: d.channel.to_string(),
        recipient: d.recipient,
        update: d
            .update_id
            .as_ref()
            .and_then(|u| updates.get(&u.to_string()).cloned()),
        incident_id: d.incident_id.as_ref().map(ToString::to_string),
        error: d.last_error,
        made: time_view(d.created_at, tz),
        delivered: d.delivered_at.map(|t| time_view(t, tz)),
        attempts: e
            .attempts
            .into_iter()
            .take(10)
            .map(|a| AttemptRow {
                at: time_view(a.at, tz),
                outcome: a.outcome,
                error: a.error,
                status_code: a.status_code,
                duration_ms: a.duration_ms,
            })
            .collect(),
    }
}

#[derive(Debug, Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn choices(all: &[(&'static str, &'static str)], chosen: Option<&str>) -> Vec<Choice> {
    all.iter()
        .map(|&(value, label)| Choice {
            value,
            label,
            selected: chosen == Some(value),
        })
        .collect()
}

const STATES: [(&str, &str); 8] = [
    ("any", "Any state"),
    ("pending", "Pending"),
    ("sending", "Sending"),
    ("retrying", "Retrying"),
    ("delivered", "Delivered"),
    ("failed", "Failed"),
    ("dead", "Given up (dead)"),
    ("cancelled", "Cancelled"),
];

const CHANNELS: [(&str, &str); 6] = [
    ("", "Any channel"),
    ("email", "Email"),
    ("webhook", "Webhook"),
    ("slack", "Slack"),
    ("discord", "Discord"),
    ("teams", "Teams"),
];

#[derive(Serialize)]
struct LedgerView {
    layout: Frame,
    /// The incident, on an incident's ledger; none on the page-wide list.
    incident: Option<IncidentHead>,
    rows: Vec<DeliveryRow>,
    states: Vec<Choice>,
    channels: Vec<Choice>,
    recipient: String,
    /// The link to the next (older) page, if there may be one.
    older: Option<String>,
    counts: Vec<DeliveryCount>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct IncidentHead {
    id: String,
    name: String,
    given_up: u64,
}

/// The path and query of the page after `rows`, keeping the filters.
fn older_link(path: &str, q: &BTreeMap<String, String>, last: Option<i64>) -> Option<String> {
    let last = last?;
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in q.iter().filter(|(k, _)| *k != "before" && *k != "done") {
        s.append_pair(k, v);
    }
    s.append_pair("before", &last.to_string());
    Some(format!("{path}?{}", s.finish()))
}

struct Shown {
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
}

async fn ledger(
    state: &AppState,
    who: &Signed,
    incident: Option<&IncidentId>,
    q: &BTreeMap<String, String>,
    shown: Shown,
) -> HttpResponse {
    let get = |k: &str| q.get(k).map(String::as_str);
    let tz = tz_of(state);
    let mut f = match crate::http::v1::deliveries::filter(
        None,
        None,
        get("recipient"),
        get("channel"),
        get("state").filter(|s| *s != "any"),
    ) {
        Ok(f) => f,
        Err(e) => {
            return pages::message(
                state,
                Some(who),
                StatusCode::UNPROCESSABLE_ENTITY,
                "That filter is not one the ledger knows",
                &e.to_string(),
                Some("/admin/deliveries"),
            );
        }
    };
    // The page-wide list starts at what needs attention.
    if incident.is_none() && get("state").is_none() {
        f.state = Some(DeliveryState::Failed);
    }
    f.incident_id = incident.cloned();
    let before = get("before").and_then(|b| b.parse::<i64>().ok());
    let db = state.store.db();
    let loaded = async {
        let head = match incident {
            Some(id) => Some(incidents::get(db, id).await?),
            None => None,
        };
        let list = deliveries::list(db, &f, before, PAGE).await?;
        let counts = match incident {
            Some(id) => deliveries::counts_for_incident(db, id).await?,
            None => BTreeMap::new(),
        };
        Ok::<_, StoreError>((head, list, counts))
    }
    .await;
    let (head, list, counts) = match loaded {
        Ok(x) => x,
        Err(StoreError::NotFound { .. }) => {
            return pages::not_found(state, Some(who), "incident");
        }
        Err(e) => {
            tracing::error!(error = %e, "the delivery ledger");
            return pages::unavailable(state);
        }
    };
    let updates: BTreeMap<String, String> = head
        .as_ref()
        .map(|i| {
            i.updates
                .iter()
                .map(|u| {
                    (
                        u.id.to_string(),
                        format!(
                            "{}, {}",
                            u.status.label(),
                            time_view(u.display_at, tz).local
                        ),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let full = list.len() as u64 == PAGE;
    let last = list.last().map(|e| e.delivery.id);
    let rows: Vec<DeliveryRow> = list.into_iter().map(|e| row(e, tz, &updates)).collect();
    let path = match incident {
        Some(id) => format!("{}/admin/incidents/{id}/deliveries", state.base),
        None => format!("{}/admin/deliveries", state.base),
    };
    let given_up = counts
        .values()
        .flat_map(|by| by.iter())
        .filter(|(s, _)| ["failed", "dead", "cancelled"].contains(&s.as_str()))
        .map(|(_, n)| *n)
        .sum();
    let title = match &head {
        Some(i) => format!("Deliveries: {}", i.name),
        None => "Deliveries".to_owned(),
    };
    let chosen_state = match (incident, get("state")) {
        (None, None) => Some("failed"),
        (_, s) => s,
    };
    let view = LedgerView {
        layout: frame(state, &title, Some(who), "deliveries"),
        incident: head.map(|i| IncidentHead {
            id: i.id.to_string(),
            name: i.name,
            given_up,
        }),
        rows,
        states: choices(&STATES, chosen_state),
        channels: choices(&CHANNELS, get("channel")),
        recipient: get("recipient").unwrap_or_default().to_owned(),
        older: if full {
            older_link(&path, q, last)
        } else {
            None
        },
        counts: delivery_counts(&counts),
        notice: shown.notice,
        error: shown.error,
    };
    render(state, shown.status, "admin/ledger", &view)
}

fn notice(q: &BTreeMap<String, String>) -> Option<String> {
    q.get("done")
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| match n {
            0 => "Nothing needed delivering again.".to_owned(),
            1 => "1 delivery is being sent again.".to_owned(),
            n => format!("{n} deliveries are being sent again."),
        })
}

/// The page-wide ledger (failed ones first).
pub async fn deliveries(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let q = query(&req);
    let shown = Shown {
        notice: notice(&q),
        error: None,
        status: StatusCode::OK,
    };
    ledger(&state, &who, None, &q, shown).await
}

/// One incident's ledger.
pub async fn incident(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    let q = query(&req);
    let shown = Shown {
        notice: notice(&q),
        error: None,
        status: StatusCode::OK,
    };
    ledger(&state, &who, Some(&id), &q, shown).await
}

/// The answer when a redeliver form lacks its verb: nothing is sent.
async fn unconfirmed(state: &AppState, p: &Posted, incident: Option<&IncidentId>) -> HttpResponse {
    let shown = Shown {
        notice: None,
        error: Some(
            "Nothing was sent. Use the Deliver again button to send these deliveries again."
                .to_owned(),
        ),
        status: StatusCode::UNPROCESSABLE_ENTITY,
    };
    ledger(state, &p.who, incident, &BTreeMap::new(), shown).await
}

/// The ledger again, saying why a redelivery was refused (nothing was sent).
async fn refused(
    state: &AppState,
    p: &Posted,
    incident: Option<&IncidentId>,
    e: &crate::http::error::ApiError,
) -> HttpResponse {
    use actix_web::ResponseError;
    let error = match e {
        crate::http::error::ApiError::Internal(_) => {
            tracing::error!(error = %e, "redelivering");
            "Something went wrong on the server; nothing was sent. Try again.".to_owned()
        }
        other => format!("Nothing was sent: {other}"),
    };
    let shown = Shown {
        notice: None,
        error: Some(error),
        status: e.status_code(),
    };
    ledger(state, &p.who, incident, &BTreeMap::new(), shown).await
}

/// Sends an incident's failed, dead and cancelled deliveries again.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn redeliver_incident(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    if p.form.str("action") != "redeliver" {
        return unconfirmed(&state, &p, Some(&id)).await;
    }
    match incidents::get(state.store.db(), &id).await {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => {
            return pages::not_found(&state, Some(&p.who), "incident");
        }
        Err(e) => {
            tracing::error!(error = %e, "redelivering an incident");
            return pages::unavailable(&state);
        }
    }
    let f = deliveries::Filter {
        incident_id: Some(id.clone()),
        ..deliveries::Filter::default()
    };
    match crate::http::v1::deliveries::redeliver(&state, &p.who.actor, &f, None, true).await {
        Ok(n) => see_other(format!(
            "{}/admin/incidents/{id}/deliveries?done={n}",
            state.base
        )),
        Err(e) => refused(&state, &p, Some(&id), &e).await,
    }
}

/// Sends one delivery again, whatever its state (as the API does).
#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn redeliver_one(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let Ok(id) = path.into_inner().parse::<i64>() else {
        return pages::not_found(&state, Some(&p.who), "delivery");
    };
    let found = match deliveries::get(state.store.db(), id).await {
        Ok(Some(e)) => e,
        Ok(None) => return pages::not_found(&state, Some(&p.who), "delivery"),
        Err(e) => {
            tracing::error!(error = %e, "redelivering one");
            return pages::unavailable(&state);
        }
    };
    let incident = found.delivery.incident_id.clone();
    if p.form.str("action") != "redeliver" {
        return unconfirmed(&state, &p, incident.as_ref()).await;
    }
    let f = deliveries::Filter::default();
    match crate::http::v1::deliveries::redeliver(&state, &p.who.actor, &f, Some(id), false).await {
        Ok(n) => see_other(match incident {
            Some(i) => format!("{}/admin/incidents/{i}/deliveries?done={n}", state.base),
            None => format!("{}/admin/deliveries?done={n}", state.base),
        }),
        Err(e) => refused(&state, &p, incident.as_ref(), &e).await,
    }
}

#[derive(Debug, Serialize)]
struct AuditRow {
    id: i64,
    at: TimeView,
    actor: String,
    /// The log filtered to this actor.
    actor_href: String,
    client: Option<String>,
    action: String,
    subject_type: String,
    subject_id: String,
    /// A link to the subject's console page, where it has one, or else to the log
    /// filtered to it.
    subject_href: String,
    detail: String,
}

#[derive(Serialize)]
struct AuditView {
    layout: Frame,
    rows: Vec<AuditRow>,
    actor: String,
    subject: String,
    older: Option<String>,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The detail of a record, short enough for a table cell.
fn brief(v: &serde_json::Value) -> String {
    if v.is_null() || v.as_object().is_some_and(serde_json::Map::is_empty) {
        return String::new();
    }
    let s = v.to_string();
    if s.chars().count() > 300 {
        let cut: String = s.chars().take(300).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// The audit log, newest first, by person or by subject.
pub async fn audit_log(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let q = query(&req);
    let f = audit::Filter {
        subject_id: q.get("subject").cloned(),
        actor: q.get("actor").cloned(),
    };
    let before = q.get("before").and_then(|b| b.parse::<i64>().ok());
    let list = match audit::list_where(state.store.db(), &f, before, PAGE).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "the audit log");
            return pages::unavailable(&state);
        }
    };
    let tz = tz_of(&state);
    let full = list.len() as u64 == PAGE;
    let last = list.last().map(|r| r.id);
    let base = &state.base;
    let rows = list
        .into_iter()
        .map(|r| AuditRow {
            subject_href: match r.subject_type.as_str() {
                "incident" => format!("{base}/admin/incidents/{}", enc(&r.subject_id)),
                _ => format!("{base}/admin/audit?subject={}", enc(&r.subject_id)),
            },
            actor_href: format!("{base}/admin/audit?actor={}", enc(&r.actor)),
            id: r.id,
            at: time_view(r.at, tz),
            actor: r.actor,
            client: r.client_addr,
            action: r.action,
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            detail: brief(&r.detail),
        })
        .collect();
    let view = AuditView {
        layout: frame(&state, "Audit log", Some(&who), "audit"),
        rows,
        actor: f.actor.unwrap_or_default(),
        subject: f.subject_id.unwrap_or_default(),
        older: if full {
            older_link(&format!("{base}/admin/audit"), &q, last)
        } else {
            None
        },
    };
    render(&state, StatusCode::OK, "admin/audit", &view)
}
