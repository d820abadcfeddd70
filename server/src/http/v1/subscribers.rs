//! Subscribers through Statuspage's own endpoints (page subscribers and incident
//! subscribers), so existing clients work unchanged.

use actix_web::{HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, created, ok, write};
use crate::app::AppState;
use crate::domain::{
    Channel, ComponentId, IncidentId,
    Role::{Admin, Responder},
    SubscriberId, SubscriberState,
};
use crate::http::{
    body::{Envelope, Enveloped},
    error::ApiError,
    lenient,
    routes::RouteTable,
};
use crate::store::{
    Actor,
    subscribers::{self, NewSubscriber, Query, Subscriber},
};

pub fn routes(t: &mut RouteTable) {
    use Method as M;
    let base = "/v1/pages/{page_id}/subscribers";
    let tag = "subscribers";
    t.add(
        M::GET,
        base,
        Responder,
        tag,
        "List subscribers (q, type, state, limit, page, sort_field, sort_direction)",
        list,
    )
    .query::<ListQuery>()
    .returns_list::<SubscriberDoc>();
    t.add(M::POST, base, Responder, tag, "Create a subscriber; an email subscriber gets a confirmation link unless skip_confirmation_notification", create)
        .created()
        .body::<SubscriberBody>()
        .returns::<SubscriberDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/subscribers/count",
        Responder,
        tag,
        "Count subscribers by type",
        count,
    )
    .query::<CountQuery>()
    .returns::<serde_json::Value>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/subscribers/histogram_by_state",
        Responder,
        tag,
        "Subscribers by type and state",
        histogram,
    )
    .returns::<serde_json::Value>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/subscribers/unsubscribed",
        Responder,
        tag,
        "List unsubscribed subscribers",
        unsubscribed,
    )
    .query::<PagedQuery>()
    .returns_list::<SubscriberDoc>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/subscribers/resend_confirmation",
        Responder,
        tag,
        "Send unconfirmed subscribers their confirmation link again",
        resend_many,
    )
    .created()
    .body::<BulkBody>()
    .returns::<serde_json::Value>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/subscribers/unsubscribe",
        Admin,
        tag,
        "Unsubscribe several subscribers (ids, or all matching type and state)",
        unsubscribe_many,
    )
    .accepted()
    .body::<BulkBody>()
    .returns::<serde_json::Value>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/subscribers/reactivate",
        Admin,
        tag,
        "Reactivate quarantined or unsubscribed subscribers",
        reactivate_many,
    )
    .accepted()
    .body::<BulkBody>()
    .returns::<serde_json::Value>();
    let one = "/v1/pages/{page_id}/subscribers/{subscriber_id}";
    t.add(M::GET, one, Responder, tag, "Get a subscriber", get)
        .returns::<SubscriberDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            one,
            Responder,
            tag,
            "Change the components a subscriber follows",
            update,
        )
        .body::<ComponentsBody>()
        .returns::<SubscriberDoc>();
    }
    t.add(
        M::DELETE,
        one,
        Responder,
        tag,
        "Unsubscribe a subscriber",
        delete,
    )
    .returns::<SubscriberDoc>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/subscribers/{subscriber_id}/rotate_secret",
        Admin,
        tag,
        "Give a webhook or chat subscriber a new signing secret (returned once); the old one is still signed with for 24 hours",
        rotate_secret,
    )
    .returns::<SubscriberDoc>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/subscribers/{subscriber_id}/reactivate",
        Admin,
        tag,
        "Re-enable a subscriber: a paused endpoint resumes where it stopped, in order",
        reactivate_one,
    )
    .returns::<SubscriberDoc>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/subscribers/{subscriber_id}/resend_confirmation",
        Responder,
        tag,
        "Send a subscriber's confirmation link again",
        resend_one,
    )
    .created()
    .returns::<serde_json::Value>();

    let ibase = "/v1/pages/{page_id}/incidents/{incident_id}/subscribers";
    let tag = "incident subscribers";
    t.add(
        M::GET,
        ibase,
        Responder,
        tag,
        "List an incident's subscribers",
        incident_list,
    )
    .query::<ListQuery>()
    .returns_list::<SubscriberDoc>();
    t.add(
        M::POST,
        ibase,
        Responder,
        tag,
        "Subscribe someone to one incident",
        incident_create,
    )
    .created()
    .body::<SubscriberBody>()
    .returns::<SubscriberDoc>();
    let ione = "/v1/pages/{page_id}/incidents/{incident_id}/subscribers/{subscriber_id}";
    t.add(
        M::GET,
        ione,
        Responder,
        tag,
        "Get an incident subscriber",
        incident_get,
    )
    .returns::<SubscriberDoc>();
    t.add(
        M::DELETE,
        ione,
        Responder,
        tag,
        "Unsubscribe an incident subscriber",
        incident_delete,
    )
    .returns::<SubscriberDoc>();
    t.add(M::POST, "/v1/pages/{page_id}/incidents/{incident_id}/subscribers/{subscriber_id}/resend_confirmation", Responder, tag, "Send an incident subscriber's confirmation link again", incident_resend)
        .created()
        .returns::<serde_json::Value>();
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct SubscriberBody {
    pub email: Option<String>,
    /// A webhook or chat URL.
    pub endpoint: Option<String>,
    /// `email`, `webhook`, `slack`, `discord` or `teams` (from `email`/`endpoint` when
    /// absent).
    pub mode: Option<Channel>,
    /// Components or groups to follow; none: everything.
    pub component_ids: Option<Vec<ComponentId>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub skip_confirmation_notification: Option<bool>,
    /// SMS is not sent by Herald: a subscriber with a phone number is refused.
    pub phone_number: Option<String>,
    /// Accepted from Statuspage clients; unused (no SMS, no page access users).
    #[allow(dead_code)]
    pub phone_country: Option<String>,
    #[allow(dead_code)]
    pub page_access_user: Option<serde_json::Value>,
}

impl Enveloped for SubscriberBody {
    const KEY: &'static str = "subscriber";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ComponentsBody {
    pub component_ids: Option<Vec<ComponentId>>,
}

impl Enveloped for ComponentsBody {
    const KEY: &'static str = "subscriber";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct BulkBody {
    /// Comma-separated ids, or `all` (unsubscribe).
    pub subscribers: Option<String>,
    #[serde(rename = "type")]
    pub mode: Option<String>,
    pub state: Option<String>,
    /// Accepted from Statuspage clients: Herald sends no unsubscription notice.
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub skip_unsubscription_notification: Option<bool>,
}

impl Enveloped for BulkBody {
    const KEY: &'static str = "subscriber";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SubscriberDoc {
    pub id: SubscriberId,
    pub mode: Channel,
    pub email: Option<String>,
    pub endpoint: Option<String>,
    pub phone_number: Option<String>,
    pub phone_country: Option<String>,
    pub display_phone_number: Option<String>,
    pub obfuscated_channel_name: Option<String>,
    pub workspace_name: Option<String>,
    pub skip_confirmation_notification: bool,
    pub quarantined_at: Option<String>,
    pub purge_at: Option<String>,
    /// Components or groups followed; empty: everything.
    pub components: Vec<ComponentId>,
    pub page_access_user_id: Option<String>,
    pub created_at: String,
    /// Herald: `unconfirmed`, `active`, `quarantined` or `unsubscribed`.
    pub state: SubscriberState,
    /// Herald: the incident followed, for an incident subscriber.
    pub incident_id: Option<IncidentId>,
    /// Herald: a webhook or chat subscriber's signing secret (`whsec_...`), only in the
    /// response that made it (creation, rotation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// Herald: since when the endpoint has been failing, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    /// Herald: when the endpoint was paused after failing for days, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<String>,
}

fn doc(view: &View, s: Subscriber) -> SubscriberDoc {
    let r = s.row;
    SubscriberDoc {
        id: r.id,
        mode: r.mode,
        email: r.email,
        endpoint: r.endpoint,
        phone_number: None,
        phone_country: None,
        display_phone_number: None,
        obfuscated_channel_name: None,
        workspace_name: None,
        skip_confirmation_notification: r.skip_confirmation_notification,
        quarantined_at: view.ctx.ts_opt(r.quarantined_at),
        purge_at: view.ctx.ts_opt(r.purge_at),
        components: s.components,
        page_access_user_id: None,
        created_at: view.ctx.ts(r.created_at),
        state: r.state,
        incident_id: r.incident_id,
        signing_secret: None,
        failing_since: None,
        paused_at: None,
    }
}

/// The doc with the endpoint's health (failing, paused).
async fn full_doc(state: &AppState, view: &View, s: Subscriber) -> Result<SubscriberDoc, ApiError> {
    let endpoint = match (s.row.mode, s.row.endpoint.as_deref()) {
        (Channel::Email, _) | (_, None) => None,
        (mode, Some(url)) => crate::store::endpoints::get(state.store.db(), mode, url).await?,
    };
    let mut d = doc(view, s);
    if let Some(e) = endpoint {
        d.failing_since = view.ctx.ts_opt(e.failing_since);
        d.paused_at = view.ctx.ts_opt(e.paused_at);
    }
    Ok(d)
}

/// Refuses an endpoint Herald must not send to (422 naming `field`).
pub(crate) async fn check_endpoint(state: &AppState, b: &SubscriberBody) -> Result<(), ApiError> {
    let endpoint_mode =
        b.mode.is_some_and(|m| m != Channel::Email) || (b.mode.is_none() && b.endpoint.is_some());
    if let (true, Some(e)) = (endpoint_mode, b.endpoint.as_deref()) {
        crate::notify::webhook::check_endpoint(e, state.notifier.webhook_allow())
            .await
            .map_err(|r| {
                ApiError::invalid("subscriber.endpoint", format!("endpoint refused: {r}"))
            })?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListQuery {
    #[schemars(length(max = 200))]
    pub q: Option<String>,
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["email", "webhook", "slack", "discord", "teams"]))]
    pub mode: Option<String>,
    /// `active` (default), `unconfirmed`, `quarantined`, `unsubscribed` or `all`.
    #[schemars(extend("enum" = ["active", "unconfirmed", "quarantined", "unsubscribed", "all"]))]
    pub state: Option<String>,
    #[schemars(with = "Option<u64>", range(max = u64::MAX))]
    pub limit: Option<String>,
    /// 0-based (Statuspage's), or `per_page` pages from 1.
    #[schemars(with = "Option<u64>", range(max = u64::MAX))]
    pub page: Option<String>,
    #[schemars(with = "Option<u64>", range(max = u64::MAX))]
    pub per_page: Option<String>,
    #[schemars(extend("enum" = ["primary", "created_at", "quarantined_at", "relevance"]))]
    pub sort_field: Option<String>,
    #[schemars(extend("enum" = ["asc", "desc"]))]
    pub sort_direction: Option<String>,
}

fn mode(field: &str, v: Option<&str>) -> Result<Option<Channel>, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<Channel>()
            .map(Some)
            .map_err(|e| ApiError::invalid(field, e.to_string())),
    }
}

fn state_filter(v: Option<&str>) -> Result<Option<SubscriberState>, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(Some(SubscriberState::Active)),
        Some("all") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|e: crate::domain::UnknownValue| {
                ApiError::invalid("state", format!("{e} (or all)"))
            }),
    }
}

fn number(field: &str, v: Option<&str>) -> Result<Option<u64>, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::invalid(field, format!("{field} must be a whole number, got '{v}'"))
        }),
    }
}

fn query(q: &ListQuery) -> Result<(Query, u64, u64), ApiError> {
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if text.is_some_and(|t| t.chars().count() > super::MAX_QUERY) {
        return Err(ApiError::invalid(
            "q",
            format!("q must be at most {} characters", super::MAX_QUERY),
        ));
    }
    let limit = number("limit", q.limit.as_deref())?
        .or(number("per_page", q.per_page.as_deref())?)
        .unwrap_or(100)
        .clamp(1, 100);
    let page = number("page", q.page.as_deref())?
        .unwrap_or(0)
        .min(1_000_000);
    // `per_page` clients count pages from 1; Statuspage's `limit` clients from 0.
    let page = if q.per_page.is_some() && q.limit.is_none() {
        page.saturating_sub(1)
    } else {
        page
    };
    let newest_first = match q.sort_direction.as_deref().map(str::trim) {
        None | Some("" | "asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "sort_direction",
                format!("'{other}' is not one of asc desc"),
            ));
        }
    };
    let by_quarantine = match q.sort_field.as_deref().map(str::trim) {
        None | Some("" | "primary" | "created_at" | "relevance") => false,
        Some("quarantined_at") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "sort_field",
                format!("'{other}' is not one of primary created_at quarantined_at relevance"),
            ));
        }
    };
    Ok((
        Query {
            q: text.map(str::to_owned),
            mode: mode("type", q.mode.as_deref())?,
            state: state_filter(q.state.as_deref())?,
            sort_newest_first: newest_first,
            sort_by_quarantine: by_quarantine,
            ..Query::default()
        },
        limit,
        page * limit,
    ))
}

pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (query, limit, offset) = query(&q)?;
    let view = View::load(&state).await?;
    let all = subscribers::list(
        state.store.db(),
        state.store.page_id(),
        &query,
        limit,
        offset,
    )
    .await?;
    Ok(ok(&all
        .into_iter()
        .map(|s| doc(&view, s))
        .collect::<Vec<_>>()))
}

pub(crate) fn new_subscriber(
    b: SubscriberBody,
    incident: Option<IncidentId>,
) -> Result<NewSubscriber, ApiError> {
    if b.phone_number
        .as_deref()
        .is_some_and(|p| !p.trim().is_empty())
    {
        return Err(ApiError::invalid(
            "subscriber.phone_number",
            "Herald does not send SMS; subscribe an email address or an endpoint",
        ));
    }
    if b.email.is_none() && b.endpoint.is_none() {
        return Err(ApiError::invalid(
            "subscriber.email",
            "a subscriber needs `email` (or `endpoint` for a webhook)",
        ));
    }
    Ok(NewSubscriber {
        mode: b.mode,
        email: b.email,
        endpoint: b.endpoint,
        component_ids: b.component_ids.unwrap_or_default(),
        skip_confirmation_notification: b.skip_confirmation_notification.unwrap_or(false),
        incident_id: incident,
    })
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<SubscriberBody>,
) -> Result<HttpResponse, ApiError> {
    check_endpoint(&state, &b).await?;
    let new = new_subscriber(b, None)?;
    let s = write(&state, &actor, async |w| subscribers::create(w, new).await)
        .await
        .map_err(|e| e.in_body("subscriber"))?;
    let view = View::load(&state).await?;
    let secret = s.row.signing_secret.clone();
    let mut d = doc(&view, s);
    d.signing_secret = secret;
    Ok(created(&d))
}

pub async fn rotate_secret(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let s = page_subscriber(&state, &id).await?;
    let (s, fresh) = write(&state, &actor, async |w| {
        subscribers::rotate_secret(w, s.id()).await
    })
    .await?;
    let view = View::load(&state).await?;
    let mut d = full_doc(&state, &view, s).await?;
    d.signing_secret = Some(fresh);
    Ok(ok(&d))
}

pub async fn reactivate_one(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let s = page_subscriber(&state, &id).await?;
    let id = s.id().clone();
    write(&state, &actor, async |w| {
        subscribers::reactivate(w, std::slice::from_ref(&id)).await
    })
    .await?;
    state.notifier.wake();
    let s = subscribers::get(state.store.db(), &id).await?;
    let view = View::load(&state).await?;
    Ok(ok(&full_doc(&state, &view, s).await?))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CountQuery {
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["email", "webhook", "slack", "discord", "teams"]))]
    pub mode: Option<String>,
    #[schemars(extend("enum" = ["active", "unconfirmed", "quarantined", "unsubscribed", "all"]))]
    pub state: Option<String>,
}

pub async fn count(
    state: web::Data<AppState>,
    q: web::Query<CountQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = Query {
        mode: mode("type", q.mode.as_deref())?,
        state: state_filter(q.state.as_deref())?,
        ..Query::default()
    };
    Ok(ok(&subscribers::count(
        state.store.db(),
        state.store.page_id(),
        &query,
    )
    .await?))
}

pub async fn histogram(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(ok(&subscribers::histogram(
        state.store.db(),
        state.store.page_id(),
    )
    .await?))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PagedQuery {
    #[schemars(with = "Option<u64>", range(max = u64::MAX))]
    pub page: Option<String>,
    #[schemars(with = "Option<u64>", range(max = u64::MAX))]
    pub per_page: Option<String>,
}

pub async fn unsubscribed(
    state: web::Data<AppState>,
    q: web::Query<PagedQuery>,
) -> Result<HttpResponse, ApiError> {
    let per = number("per_page", q.per_page.as_deref())?
        .unwrap_or(100)
        .clamp(1, 100);
    let page = number("page", q.page.as_deref())?
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let query = Query {
        state: Some(SubscriberState::Unsubscribed),
        sort_newest_first: true,
        ..Query::default()
    };
    let view = View::load(&state).await?;
    let all = subscribers::list(
        state.store.db(),
        state.store.page_id(),
        &query,
        per,
        (page - 1) * per,
    )
    .await?;
    Ok(ok(&all
        .into_iter()
        .map(|s| doc(&view, s))
        .collect::<Vec<_>>()))
}

/// The ids a bulk body names: a list, or `all` matching `type` and `state`.
async fn bulk_ids(
    state: &AppState,
    b: &BulkBody,
    allow_all: bool,
) -> Result<Vec<SubscriberId>, ApiError> {
    let Some(list) = b
        .subscribers
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    else {
        return Err(ApiError::invalid(
            "subscribers",
            "name the subscribers: comma-separated ids",
        ));
    };
    if list == "all" {
        if !allow_all {
            return Err(ApiError::invalid(
                "subscribers",
                "name the subscribers by id",
            ));
        }
        let q = Query {
            mode: mode("type", b.mode.as_deref())?,
            state: state_filter(b.state.as_deref())?,
            ..Query::default()
        };
        return Ok(subscribers::ids(state.store.db(), state.store.page_id(), &q).await?);
    }
    let ids: Vec<SubscriberId> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(SubscriberId::from)
        .collect();
    if ids.len() > 10_000 {
        return Err(ApiError::invalid(
            "subscribers",
            "at most 10000 ids at once",
        ));
    }
    Ok(ids)
}

pub async fn resend_many(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<BulkBody>,
) -> Result<HttpResponse, ApiError> {
    let ids = bulk_ids(&state, &b, false).await?;
    let n = write(&state, &actor, async |w| {
        subscribers::resend_confirmation(w, &ids).await
    })
    .await?;
    Ok(created(&serde_json::json!({"sent": n})))
}

pub async fn unsubscribe_many(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<BulkBody>,
) -> Result<HttpResponse, ApiError> {
    let ids = bulk_ids(&state, &b, true).await?;
    let n = write(&state, &actor, async |w| {
        subscribers::unsubscribe(w, &ids).await
    })
    .await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"unsubscribed": n})))
}

pub async fn reactivate_many(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<BulkBody>,
) -> Result<HttpResponse, ApiError> {
    let ids = bulk_ids(&state, &b, false).await?;
    let n = write(&state, &actor, async |w| {
        subscribers::reactivate(w, &ids).await
    })
    .await?;
    state.notifier.wake();
    Ok(HttpResponse::Accepted().json(serde_json::json!({"reactivated": n})))
}

type One = web::Path<(String, String)>;
type OfIncident = web::Path<(String, String, String)>;

/// Any subscriber by id (one of an incident too: its id is enough to manage it).
async fn page_subscriber(state: &AppState, id: &str) -> Result<Subscriber, ApiError> {
    Ok(subscribers::get(state.store.db(), &SubscriberId::from(id)).await?)
}

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let s = page_subscriber(&state, &id).await?;
    let view = View::load(&state).await?;
    Ok(ok(&full_doc(&state, &view, s).await?))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<ComponentsBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let s = page_subscriber(&state, &id).await?;
    let Some(ids) = b.component_ids else {
        let view = View::load(&state).await?;
        return Ok(ok(&doc(&view, s)));
    };
    let s = write(&state, &actor, async |w| {
        subscribers::set_components(w, s.id(), &ids).await
    })
    .await?;
    let view = View::load(&state).await?;
    Ok(ok(&doc(&view, s)))
}

async fn unsubscribe_one(
    state: &AppState,
    actor: &Actor,
    s: Subscriber,
) -> Result<HttpResponse, ApiError> {
    let id = s.id().clone();
    if s.row.state != SubscriberState::Unsubscribed {
        write(state, actor, async |w| {
            subscribers::unsubscribe(w, std::slice::from_ref(&id)).await
        })
        .await?;
    }
    let s = subscribers::get(state.store.db(), &id).await?;
    let view = View::load(state).await?;
    Ok(ok(&doc(&view, s)))
}

pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let s = page_subscriber(&state, &id).await?;
    unsubscribe_one(&state, &actor, s).await
}

/// Only an unconfirmed subscriber is sent a confirmation link again.
pub(crate) fn may_resend(s: &Subscriber) -> Result<(), ApiError> {
    if s.row.state != SubscriberState::Unconfirmed {
        return Err(ApiError::Conflict(format!(
            "subscriber '{}' is {}: only an unconfirmed subscriber is sent a confirmation link",
            s.id(),
            s.row.state
        )));
    }
    Ok(())
}

async fn resend(state: &AppState, actor: &Actor, s: Subscriber) -> Result<HttpResponse, ApiError> {
    may_resend(&s)?;
    let id = s.id().clone();
    write(state, actor, async |w| {
        subscribers::resend_confirmation(w, std::slice::from_ref(&id)).await
    })
    .await?;
    Ok(created(&serde_json::json!({"sent": 1})))
}

pub async fn resend_one(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let s = page_subscriber(&state, &id).await?;
    resend(&state, &actor, s).await
}

async fn incident_subscriber(
    state: &AppState,
    incident: &str,
    id: &str,
) -> Result<Subscriber, ApiError> {
    let s = subscribers::get(state.store.db(), &SubscriberId::from(id)).await?;
    if s.row.incident_id.as_ref().map(IncidentId::as_str) != Some(incident) {
        return Err(ApiError::NotFound(format!(
            "subscriber '{id}' of incident '{incident}' was not found"
        )));
    }
    Ok(s)
}

pub async fn incident_list(
    state: web::Data<AppState>,
    path: One,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, incident) = path.into_inner();
    let incident = IncidentId::from(incident);
    crate::store::incidents::get(state.store.db(), &incident).await?;
    let (mut query, limit, offset) = query(&q)?;
    query.incident_id = Some(incident);
    let view = View::load(&state).await?;
    let all = subscribers::list(
        state.store.db(),
        state.store.page_id(),
        &query,
        limit,
        offset,
    )
    .await?;
    Ok(ok(&all
        .into_iter()
        .map(|s| doc(&view, s))
        .collect::<Vec<_>>()))
}

pub async fn incident_create(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<SubscriberBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, incident) = path.into_inner();
    let incident = IncidentId::from(incident);
    crate::store::incidents::get(state.store.db(), &incident).await?;
    check_endpoint(&state, &b).await?;
    let new = new_subscriber(b, Some(incident))?;
    let s = write(&state, &actor, async |w| subscribers::create(w, new).await)
        .await
        .map_err(|e| e.in_body("subscriber"))?;
    let view = View::load(&state).await?;
    let secret = s.row.signing_secret.clone();
    let mut d = doc(&view, s);
    d.signing_secret = secret;
    Ok(created(&d))
}

pub async fn incident_get(
    state: web::Data<AppState>,
    path: OfIncident,
) -> Result<HttpResponse, ApiError> {
    let (_, incident, id) = path.into_inner();
    let s = incident_subscriber(&state, &incident, &id).await?;
    let view = View::load(&state).await?;
    Ok(ok(&doc(&view, s)))
}

pub async fn incident_delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: OfIncident,
) -> Result<HttpResponse, ApiError> {
    let (_, incident, id) = path.into_inner();
    let s = incident_subscriber(&state, &incident, &id).await?;
    unsubscribe_one(&state, &actor, s).await
}

pub async fn incident_resend(
    state: web::Data<AppState>,
    actor: Actor,
    path: OfIncident,
) -> Result<HttpResponse, ApiError> {
    let (_, incident, id) = path.into_inner();
    let s = incident_subscriber(&state, &incident, &id).await?;
    resend(&state, &actor, s).await
}
