//! The delivery ledger (Herald's addition): who was told what, by which channel, how
//! each attempt went; and redelivery of one delivery, a recipient's, or the failed ones
//! of an update.

use actix_web::{HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, ok};
use crate::app::AppState;
use crate::domain::{Channel, DeliveryState, IncidentId, RecipientKind, Role::Admin, UpdateId};
use crate::http::{
    body::{Envelope, Enveloped},
    error::ApiError,
    lenient,
    routes::RouteTable,
};
use crate::store::{Actor, deliveries};

pub fn routes(t: &mut RouteTable) {
    use Method as M;
    let tag = "deliveries";
    t.add(
        M::GET,
        "/v1/pages/{page_id}/deliveries",
        Admin,
        tag,
        "List deliveries, newest first (incident_id, update_id, recipient, channel, state; before, limit)",
        list,
    )
    .query::<ListQuery>()
    .returns_list::<DeliveryDoc>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/deliveries/redeliver",
        Admin,
        tag,
        "Deliver again: what the filters match (incident_id, update_id, recipient, channel, from_seq..to_seq, since; by default only failed, dead or cancelled deliveries)",
        redeliver_many,
    )
    .accepted()
    .body::<RedeliverBody>()
    .returns::<serde_json::Value>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/deliveries/{delivery_id}",
        Admin,
        tag,
        "Get a delivery with its attempts",
        get,
    )
    .returns::<DeliveryDoc>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/deliveries/{delivery_id}/redeliver",
        Admin,
        tag,
        "Deliver one again, whatever its state",
        redeliver_one,
    )
    .accepted()
    .returns::<DeliveryDoc>();
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AttemptDoc {
    pub at: String,
    /// `delivered`, `temporary` or `permanent`.
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i32,
    /// The HTTP status an endpoint answered with (webhooks and chat).
    pub status_code: Option<i32>,
    /// The start of the endpoint's response (at most 4 KiB).
    pub response: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DeliveryDoc {
    pub id: i64,
    /// The event told of (see `/events`).
    pub event_seq: i64,
    pub incident_id: Option<IncidentId>,
    pub update_id: Option<UpdateId>,
    pub channel: Channel,
    pub recipient: String,
    pub recipient_kind: RecipientKind,
    pub subscriber_id: Option<crate::domain::SubscriberId>,
    pub tenant_id: Option<crate::domain::TenantId>,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub message_id: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
    /// Newest first.
    pub attempt_log: Vec<AttemptDoc>,
}

fn doc(view: &View, e: deliveries::Entry) -> DeliveryDoc {
    let d = e.delivery;
    let due = matches!(d.state, DeliveryState::Pending | DeliveryState::Retrying);
    DeliveryDoc {
        id: d.id,
        event_seq: d.event_seq,
        incident_id: d.incident_id,
        update_id: d.update_id,
        channel: d.channel,
        recipient: d.recipient,
        recipient_kind: d.recipient_kind,
        subscriber_id: d.subscriber_id,
        tenant_id: d.tenant_id,
        state: d.state,
        attempts: d.attempts,
        next_attempt_at: due.then(|| view.ctx.ts(d.next_attempt_at)),
        last_error: d.last_error,
        message_id: d.message_id,
        created_at: view.ctx.ts(d.created_at),
        delivered_at: view.ctx.ts_opt(d.delivered_at),
        attempt_log: e
            .attempts
            .into_iter()
            .map(|a| AttemptDoc {
                at: view.ctx.ts(a.at),
                outcome: a.outcome,
                error: a.error,
                duration_ms: a.duration_ms,
                status_code: a.status_code,
                response: a.response,
            })
            .collect(),
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListQuery {
    pub incident_id: Option<String>,
    pub update_id: Option<String>,
    pub recipient: Option<String>,
    #[schemars(extend("enum" = ["email", "webhook", "slack", "discord", "teams"]))]
    pub channel: Option<String>,
    #[schemars(extend("enum" = ["pending", "sending", "retrying", "delivered", "failed", "dead", "cancelled"]))]
    pub state: Option<String>,
    /// Only deliveries with a smaller id (the next page).
    #[schemars(range(min = i64::MIN, max = i64::MAX))]
    pub before: Option<i64>,
    #[schemars(range(max = u64::MAX))]
    pub limit: Option<u64>,
}

/// The ledger's filters as the API reads them (blank ones ignored).
pub fn filter(
    incident_id: Option<&str>,
    update_id: Option<&str>,
    recipient: Option<&str>,
    channel: Option<&str>,
    state: Option<&str>,
) -> Result<deliveries::Filter, ApiError> {
    let some = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Ok(deliveries::Filter {
        incident_id: some(incident_id).map(IncidentId::from),
        update_id: some(update_id).map(UpdateId::from),
        recipient: some(recipient),
        channel: match some(channel) {
            Some(c) => Some(c.parse().map_err(|e: crate::domain::UnknownValue| {
                ApiError::invalid("channel", e.to_string())
            })?),
            None => None,
        },
        state: match some(state) {
            Some(s) => Some(s.parse().map_err(|e: crate::domain::UnknownValue| {
                ApiError::invalid("state", e.to_string())
            })?),
            None => None,
        },
        ..deliveries::Filter::default()
    })
}

/// A time given as RFC 3339.
fn time(field: &str, v: Option<&str>) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.with_timezone(&chrono::Utc)))
            .map_err(|_| {
                ApiError::invalid(
                    field,
                    format!("{field} must be an RFC 3339 time, got '{v}'"),
                )
            }),
    }
}

pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let f = filter(
        q.incident_id.as_deref(),
        q.update_id.as_deref(),
        q.recipient.as_deref(),
        q.channel.as_deref(),
        q.state.as_deref(),
    )?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let view = View::load(&state).await?;
    let all = deliveries::list(state.store.db(), &f, q.before, limit).await?;
    Ok(ok(&all
        .into_iter()
        .map(|e| doc(&view, e))
        .collect::<Vec<_>>()))
}

type One = web::Path<(String, i64)>;

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let Some(e) = deliveries::get(state.store.db(), id).await? else {
        return Err(ApiError::NotFound(format!("delivery {id} was not found")));
    };
    let view = View::load(&state).await?;
    Ok(ok(&doc(&view, e)))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RedeliverBody {
    pub incident_id: Option<String>,
    pub update_id: Option<String>,
    pub recipient: Option<String>,
    pub channel: Option<String>,
    /// Events from this sequence number on (with `to_seq`: a range).
    pub from_seq: Option<i64>,
    /// Events up to this sequence number.
    pub to_seq: Option<i64>,
    /// Deliveries made at or after this time (RFC 3339): with `recipient`, everything an
    /// endpoint was sent since then.
    pub since: Option<String>,
    /// Also deliveries that went through (default false: only failed, dead or cancelled).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub include_delivered: Option<bool>,
}

impl Enveloped for RedeliverBody {
    const KEY: &'static str = "redeliver";
}

/// Makes the deliveries `f` matches (or delivery `id`) due again, as `actor`, with an
/// audit record; `only_given_up` keeps to those failed, dead or cancelled. The API and
/// the console's ledger both redeliver through here. Returns how many.
#[tracing::instrument(skip_all, fields(delivery = ?id, incident = ?f.incident_id))]
pub async fn redeliver(
    state: &AppState,
    actor: &Actor,
    f: &deliveries::Filter,
    id: Option<i64>,
    only_given_up: bool,
) -> Result<u64, ApiError> {
    let now = state.clock.now();
    let n = super::write(state, actor, async |w| {
        let n = deliveries::redeliver(w.conn(), f, id, only_given_up, now).await?;
        let subject = id.map_or_else(|| format!("{n} deliveries"), |id| id.to_string());
        w.audit(
            "delivery.redeliver",
            "delivery",
            &subject,
            serde_json::json!({"incident_id": f.incident_id, "update_id": f.update_id, "recipient": f.recipient, "count": n}),
        )
        .await?;
        Ok(n)
    })
    .await?;
    state.notifier.wake();
    Ok(n)
}

pub async fn redeliver_many(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<RedeliverBody>,
) -> Result<HttpResponse, ApiError> {
    let mut f = filter(
        b.incident_id.as_deref(),
        b.update_id.as_deref(),
        b.recipient.as_deref(),
        b.channel.as_deref(),
        None,
    )?;
    f.from_seq = b.from_seq;
    f.to_seq = b.to_seq;
    f.since = time("since", b.since.as_deref())?;
    if !f.is_narrow() {
        return Err(ApiError::invalid(
            "redeliver",
            "name an incident_id, an update_id, a recipient, a from_seq/to_seq range or since",
        ));
    }
    let only_given_up = !b.include_delivered.unwrap_or(false);
    let n = redeliver(&state, &actor, &f, None, only_given_up).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({"redelivering": n})))
}

pub async fn redeliver_one(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    if deliveries::get(state.store.db(), id).await?.is_none() {
        return Err(ApiError::NotFound(format!("delivery {id} was not found")));
    }
    redeliver(
        &state,
        &actor,
        &deliveries::Filter::default(),
        Some(id),
        false,
    )
    .await?;
    let Some(e) = deliveries::get(state.store.db(), id).await? else {
        return Err(ApiError::NotFound(format!("delivery {id} was not found")));
    };
    let view = View::load(&state).await?;
    Ok(HttpResponse::Accepted().json(doc(&view, e)))
}
