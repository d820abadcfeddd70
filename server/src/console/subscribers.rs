//! Subscribers: the list (counts by state, a prefix search along the address index,
//! a state filter, pages by cursor), one subscriber's page with what they follow and
//! what was sent to them, adding one, and the CSV import. Every change goes through
//! the admin API's own checks and store writes (`http::v1::subscribers`).

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Serialize;

use super::auth::{Posted, Signed, Viewing};
use super::pages::{self, Frame, frame, render, said, see_other, tz_of};
use super::people::{PAGE_SIZE, Pick, field_of, import_page, picks};
use crate::app::AppState;
use crate::bulk::Kind;
use crate::domain::{ComponentId, SubscriberId, SubscriberState};
use crate::http::{
    error::ApiError,
    v1::{
        commit,
        subscribers::{SubscriberBody, check_endpoint, may_resend, new_subscriber},
    },
};
use crate::render::time::{TimeView, time_view};
use crate::store::{StoreError, components, deliveries, subscribers};

const STATES: [SubscriberState; 4] = [
    SubscriberState::Active,
    SubscriberState::Unconfirmed,
    SubscriberState::Quarantined,
    SubscriberState::Unsubscribed,
];

fn query_of(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

#[derive(Debug, Serialize)]
struct StateCount {
    value: &'static str,
    label: &'static str,
    count: u64,
    selected: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    channel: String,
    address: String,
    state: &'static str,
    follows: String,
    created: TimeView,
}

#[derive(Serialize)]
struct ListView {
    layout: Frame,
    q: String,
    states: Vec<StateCount>,
    total: u64,
    rows: Vec<Row>,
    next: Option<String>,
    first_page: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    error_field: Option<String>,
    email: String,
    skip_confirmation: bool,
    components: Vec<Pick>,
    can_import: bool,
}

/// What the add form said.
#[derive(Default)]
struct Added {
    email: String,
    skip: bool,
    components: Vec<ComponentId>,
}

fn notice(q: &[(String, String)]) -> Option<String> {
    match param(q, "done")? {
        "imported" => Some(format!(
            "Imported {} subscribers; {} were already there.",
            param(q, "created")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0),
            param(q, "skipped")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        )),
        _ => None,
    }
}

async fn list_page(
    state: &AppState,
    who: &Signed,
    q: &[(String, String)],
    status: StatusCode,
    added: Added,
    error: Option<(String, Option<String>)>,
) -> HttpResponse {
    let text = param(q, "q").map(|t| t.chars().take(subscribers::MAX_PREFIX).collect::<String>());
    let filter = param(q, "state").and_then(|s| s.parse::<SubscriberState>().ok());
    let after = param(q, "after");
    let db = state.store.db();
    let page = state.store.page_id();
    let loaded = async {
        let tally = subscribers::tally(db, page).await?;
        let listed =
            subscribers::browse(db, page, text.as_deref(), filter, after, PAGE_SIZE).await?;
        let all = components::list(db, page).await?;
        Ok::<_, StoreError>((tally, listed, all))
    }
    .await;
    let (tally, listed, all) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "the console subscribers page");
            return pages::unavailable(state);
        }
    };
    let tz = tz_of(state);
    let in_state = |s: SubscriberState| -> u64 {
        tally
            .iter()
            .filter(|(_, st, _)| *st == s)
            .map(|(_, _, n)| u64::try_from(*n).unwrap_or(0))
            .sum()
    };
    let states: Vec<StateCount> = STATES
        .iter()
        .map(|&s| StateCount {
            value: s.as_str(),
            label: s.as_str(),
            count: in_state(s),
            selected: filter == Some(s),
        })
        .collect();
    let link = |after: Option<&str>| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        if let Some(t) = &text {
            ser.append_pair("q", t);
        }
        if let Some(f) = filter {
            ser.append_pair("state", f.as_str());
        }
        if let Some(a) = after {
            ser.append_pair("after", a);
        }
        format!("{}/admin/subscribers?{}", state.base, ser.finish())
    };
    let view = ListView {
        layout: frame(state, "Subscribers", Some(who), "subscribers"),
        q: text.clone().unwrap_or_default(),
        total: states.iter().map(|s| s.count).sum(),
        states,
        rows: listed
            .rows
            .iter()
            .map(|s| Row {
                id: s.id().to_string(),
                channel: s.row.mode.to_string(),
                address: s.address().to_owned(),
                state: s.row.state.as_str(),
                follows: if s.components.is_empty() {
                    "everything".to_owned()
                } else {
                    format!("{} chosen", s.components.len())
                },
                created: time_view(s.row.created_at, tz),
            })
            .collect(),
        next: listed.next.as_deref().map(|n| link(Some(n))),
        first_page: after.map(|_| link(None)),
        notice: notice(q),
        error_field: error.as_ref().and_then(|(_, f)| f.clone()),
        error: error.map(|(m, _)| m),
        email: added.email,
        skip_confirmation: added.skip,
        components: picks(&all, &added.components),
        can_import: who.is_admin(),
    };
    render(state, status, "admin/subscribers", &view)
}

pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let q = query_of(&req);
    list_page(&state, &who, &q, StatusCode::OK, Added::default(), None).await
}

/// Adds a subscriber as `POST .../subscribers` does: an email is sent its
/// confirmation link unless the form says it already agreed.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn create(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let added = Added {
        email: p.form.str("email").trim().to_owned(),
        skip: p.form.ticked("skip_confirmation_notification"),
        components: p
            .form
            .list("component_ids")
            .into_iter()
            .map(ComponentId::from)
            .collect(),
    };
    let b = SubscriberBody {
        email: Some(added.email.clone()).filter(|e| !e.is_empty()),
        component_ids: Some(added.components.clone()),
        skip_confirmation_notification: Some(added.skip),
        ..SubscriberBody::default()
    };
    let made = async {
        check_endpoint(&state, &b).await?;
        let new = new_subscriber(b, None)?;
        commit(&state, &p.who.actor, async |w| {
            subscribers::create(w, new).await
        })
        .await
        .map_err(|e| e.in_body("subscriber"))
    }
    .await;
    match made {
        Ok((s, shown)) => {
            shown.wait(&state).await;
            see_other(format!(
                "{}/admin/subscribers/{}?done=added",
                state.base,
                s.id()
            ))
        }
        Err(e) => {
            let field = field_of(&e);
            list_page(
                &state,
                &p.who,
                &[],
                StatusCode::UNPROCESSABLE_ENTITY,
                added,
                Some((said(&e), field)),
            )
            .await
        }
    }
}

#[derive(Debug, Serialize)]
struct Sent {
    at: TimeView,
    channel: String,
    state: String,
    incident_id: Option<String>,
    error: Option<String>,
}

#[derive(Serialize)]
struct OneView {
    layout: Frame,
    id: String,
    channel: String,
    address: String,
    state: &'static str,
    created: TimeView,
    confirmed: Option<TimeView>,
    quarantined: Option<TimeView>,
    unsubscribed: Option<TimeView>,
    incident_id: Option<String>,
    follows_all: bool,
    components: Vec<Pick>,
    sent: Vec<Sent>,
    can_resend: bool,
    can_unsubscribe: bool,
    can_reactivate: bool,
    notice: Option<String>,
    error: Option<String>,
}

async fn one_page(
    state: &AppState,
    who: &Signed,
    id: &SubscriberId,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> HttpResponse {
    let db = state.store.db();
    let loaded = async {
        let s = subscribers::get(db, id).await?;
        let all = components::list(db, state.store.page_id()).await?;
        // What was sent to them is the ledger's, which needs an admin (as the API's).
        let sent = if who.is_admin() {
            deliveries::list(
                db,
                &deliveries::Filter {
                    recipient: Some(s.address().to_owned()),
                    ..deliveries::Filter::default()
                },
                None,
                10,
            )
            .await?
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>((s, all, sent))
    }
    .await;
    let (s, all, sent) = match loaded {
        Ok(x) if &x.0.row.page_id == state.store.page_id() => x,
        Ok(_) | Err(StoreError::NotFound { .. }) => {
            return pages::not_found(state, Some(who), "subscriber");
        }
        Err(e) => {
            tracing::error!(error = %e, "the console subscriber page");
            return pages::unavailable(state);
        }
    };
    let tz = tz_of(state);
    let st = s.row.state;
    let view = OneView {
        layout: frame(state, s.address(), Some(who), "subscribers"),
        id: s.id().to_string(),
        channel: s.row.mode.to_string(),
        address: s.address().to_owned(),
        state: st.as_str(),
        created: time_view(s.row.created_at, tz),
        confirmed: s.row.confirmed_at.map(|t| time_view(t, tz)),
        quarantined: s.row.quarantined_at.map(|t| time_view(t, tz)),
        unsubscribed: s.row.unsubscribed_at.map(|t| time_view(t, tz)),
        incident_id: s.row.incident_id.as_ref().map(ToString::to_string),
        follows_all: s.components.is_empty(),
        components: picks(&all, &s.components),
        sent: sent
            .into_iter()
            .map(|e| Sent {
                at: time_view(e.delivery.created_at, tz),
                channel: e.delivery.channel.to_string(),
                state: e.delivery.state.to_string(),
                incident_id: e.delivery.incident_id.as_ref().map(ToString::to_string),
                error: e.delivery.last_error,
            })
            .collect(),
        can_resend: st == SubscriberState::Unconfirmed,
        can_unsubscribe: st != SubscriberState::Unsubscribed,
        can_reactivate: who.is_admin()
            && matches!(
                st,
                SubscriberState::Quarantined | SubscriberState::Unsubscribed
            ),
        notice,
        error,
    };
    render(state, status, "admin/subscriber", &view)
}

fn done_text(req: &HttpRequest) -> Option<String> {
    let q = query_of(req);
    let text = match param(&q, "done")? {
        "added" => "The subscriber is added.",
        "followed" => "What they follow is saved.",
        "resent" => "A fresh confirmation link is on its way.",
        "unsubscribed" => "They are unsubscribed and will be sent nothing more.",
        "reactivated" => "They are active again.",
        _ => return None,
    };
    Some(text.to_owned())
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let id = SubscriberId::from(path.into_inner());
    one_page(&state, &who, &id, StatusCode::OK, done_text(&req), None).await
}

/// The subscriber, if it is one of this page's.
async fn find(state: &AppState, id: &SubscriberId) -> Result<subscribers::Subscriber, ApiError> {
    let s = subscribers::get(state.store.db(), id).await?;
    if &s.row.page_id != state.store.page_id() {
        return Err(ApiError::NotFound(format!(
            "subscriber '{id}' was not found"
        )));
    }
    Ok(s)
}

/// The subscriber's forms: what they follow (`action=follow`), the confirmation link
/// again (`action=resend`), and unsubscribing (`action=unsubscribe`, only with that
/// verb). Anything else changes nothing.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, subscriber))]
pub async fn submit(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = SubscriberId::from(path.into_inner());
    tracing::Span::current().record("subscriber", id.as_str());
    let action = p.form.str("action");
    let done = async {
        let s = find(&state, &id).await?;
        let shown = match action {
            "follow" => {
                // Everything is no component chosen, as the API's update has it.
                let ids: Vec<ComponentId> = if p.form.str("follows") == "all" {
                    Vec::new()
                } else {
                    let ids: Vec<ComponentId> = p
                        .form
                        .list("component_ids")
                        .into_iter()
                        .map(ComponentId::from)
                        .collect();
                    if ids.is_empty() {
                        return Err(ApiError::invalid(
                            "component_ids",
                            "tick at least one component, or choose to follow everything",
                        ));
                    }
                    ids
                };
                commit(&state, &p.who.actor, async |w| {
                    subscribers::set_components(w, s.id(), &ids).await
                })
                .await?
                .1
            }
            "resend" => {
                may_resend(&s)?;
                commit(&state, &p.who.actor, async |w| {
                    subscribers::resend_confirmation(w, std::slice::from_ref(&id)).await
                })
                .await?
                .1
            }
            "unsubscribe" => {
                if s.row.state == SubscriberState::Unsubscribed {
                    return Ok(Some("unsubscribed"));
                }
                commit(&state, &p.who.actor, async |w| {
                    subscribers::unsubscribe(w, std::slice::from_ref(&id)).await
                })
                .await?
                .1
            }
            _ => return Ok(None),
        };
        shown.wait(&state).await;
        Ok::<_, ApiError>(Some(match action {
            "follow" => "followed",
            "resend" => "resent",
            _ => "unsubscribed",
        }))
    }
    .await;
    match done {
        Ok(Some(d)) => see_other(format!("{}/admin/subscribers/{id}?done={d}", state.base)),
        Ok(None) => {
            one_page(
                &state,
                &p.who,
                &id,
                StatusCode::OK,
                None,
                Some("Nothing was changed: choose what to do with one of the buttons.".to_owned()),
            )
            .await
        }
        Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "subscriber"),
        Err(e) => {
            one_page(
                &state,
                &p.who,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(said(&e)),
            )
            .await
        }
    }
}

/// Reactivates a quarantined or unsubscribed subscriber (an admin's, as in the API),
/// only with `action=reactivate`.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, subscriber))]
pub async fn reactivate(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = SubscriberId::from(path.into_inner());
    tracing::Span::current().record("subscriber", id.as_str());
    if p.form.str("action") != "reactivate" {
        return one_page(
            &state,
            &p.who,
            &id,
            StatusCode::OK,
            None,
            Some("Nothing was changed: press Reactivate to make them active again.".to_owned()),
        )
        .await;
    }
    let done = async {
        let s = find(&state, &id).await?;
        let (_, shown) = commit(&state, &p.who.actor, async |w| {
            subscribers::reactivate(w, std::slice::from_ref(s.id())).await
        })
        .await?;
        state.notifier.wake();
        shown.wait(&state).await;
        Ok::<_, ApiError>(())
    }
    .await;
    match done {
        Ok(()) => see_other(format!(
            "{}/admin/subscribers/{id}?done=reactivated",
            state.base
        )),
        Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "subscriber"),
        Err(e) => {
            one_page(
                &state,
                &p.who,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(said(&e)),
            )
            .await
        }
    }
}

pub async fn import_form(state: web::Data<AppState>, Viewing(who): Viewing) -> HttpResponse {
    import_page(&state, &who, Kind::Subscribers, None, false).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn import(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let write = p.form.str("action") == "import";
    import_page(
        &state,
        &p.who,
        Kind::Subscribers,
        Some(p.form.str("csv")),
        write,
    )
    .await
}
