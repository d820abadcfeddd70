//! The delivery ledger: one row per event, channel and recipient (the key makes a repeat
//! of the expansion harmless), its state, when it is next due, the lease of the worker
//! sending it, and one attempt row per try. The retry schedule lives here, not in memory.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use serde::Serialize;

use super::endpoints;
use super::{
    Result,
    entity::{deliveries, delivery_attempts as attempts, subscribers},
    outbox::{skip_locked, statement},
};
use crate::domain::notify::{self, AfterFailure};
use crate::domain::webhook;
use crate::domain::{
    Channel, DeliveryState, IncidentId, RecipientKind, SubscriberId, SubscriberState, TenantId,
    UpdateId,
};

/// A delivery to make.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub event_seq: i64,
    pub incident_id: Option<IncidentId>,
    pub update_id: Option<UpdateId>,
    pub channel: Channel,
    pub recipient: String,
    pub recipient_kind: RecipientKind,
    pub subscriber_id: Option<SubscriberId>,
    pub tenant_id: Option<TenantId>,
    pub message_id: String,
}

/// Inserts `rows` due at `now`, skipping those that exist (same event, channel and
/// recipient). Returns how many were new.
pub async fn insert(
    db: &impl ConnectionTrait,
    rows: Vec<NewDelivery>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut made = 0;
    for chunk in rows.chunks(200) {
        let models = chunk.iter().map(|d| deliveries::ActiveModel {
            event_seq: Set(d.event_seq),
            incident_id: Set(d.incident_id.clone()),
            update_id: Set(d.update_id.clone()),
            channel: Set(d.channel),
            recipient: Set(d.recipient.clone()),
            recipient_kind: Set(d.recipient_kind),
            subscriber_id: Set(d.subscriber_id.clone()),
            tenant_id: Set(d.tenant_id.clone()),
            state: Set(DeliveryState::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            due_since: Set(now),
            lease_until: Set(None),
            message_id: Set(d.message_id.clone()),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            delivered_at: Set(None),
            ..Default::default()
        });
        if let sea_orm::TryInsertResult::Inserted(n) = deliveries::Entity::insert_many(models)
            .on_conflict_do_nothing_on([
                deliveries::Column::EventSeq,
                deliveries::Column::Channel,
                deliveries::Column::Recipient,
            ])
            .exec_without_returning(db)
            .await?
        {
            made += n;
        }
    }
    Ok(made)
}

/// Claims up to `limit` deliveries due at `now` (or whose sender's lease ran out) on
/// `channels`, for `lease`.
pub async fn claim(
    db: &impl ConnectionTrait,
    channels: &[Channel],
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<deliveries::Model>> {
    let backend = db.get_database_backend();
    let list = channels
        .iter()
        .map(|c| format!("'{}'", c.as_str()))
        .collect::<Vec<_>>()
        .join(",");
    let sql = if backend == sea_orm::DbBackend::Sqlite {
        let arm = |due: &str| {
            format!(
                "SELECT * FROM (SELECT id, next_attempt_at FROM deliveries WHERE {due} \
                 AND channel IN ({list}) ORDER BY next_attempt_at, id LIMIT {limit})"
            )
        };
        format!(
            "UPDATE deliveries SET state = 'sending', lease_until = $1, updated_at = $2 \
             WHERE id IN (SELECT id FROM ({}) ORDER BY next_attempt_at, id LIMIT {limit}) \
             RETURNING *",
            due_arms("", &arm)
        )
    } else {
        format!(
            "UPDATE deliveries SET state = 'sending', lease_until = $1, updated_at = $2 \
             WHERE id IN (SELECT id FROM deliveries WHERE channel IN ({list}) AND \
             ((state IN ('pending', 'retrying') AND next_attempt_at <= $2) \
             OR (state = 'sending' AND lease_until < $2)) \
             ORDER BY next_attempt_at, id LIMIT {limit}{}) RETURNING *",
            skip_locked(backend)
        )
    };
    let rows = db
        .query_all_raw(statement(
            backend,
            &sql,
            vec![(now + lease).into(), now.into()],
        ))
        .await?;
    let mut out = rows
        .iter()
        .map(|r| deliveries::Model::from_query_result(r, ""))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|d| d.id);
    Ok(out)
}

/// The claimable deliveries as a `UNION ALL` of one ordered range per state, for SQLite:
/// each arm walks the (state, next_attempt_at) index and stops at its limit, where one
/// query with `OR` would read and sort every row of the channel. `arm` makes one arm
/// from its condition on the state and times (`$2` is now; `t` the table's alias and a dot,
/// or nothing).
pub(super) fn due_arms(t: &str, arm: &dyn Fn(&str) -> String) -> String {
    [
        arm(&format!(
            "{t}state = 'pending' AND {t}next_attempt_at <= $2"
        )),
        arm(&format!(
            "{t}state = 'retrying' AND {t}next_attempt_at <= $2"
        )),
        arm(&format!("{t}state = 'sending' AND {t}lease_until < $2")),
    ]
    .join(" UNION ALL ")
}

/// When the next delivery on `channels` falls due (for a worker's sleep).
pub async fn next_due(
    db: &impl ConnectionTrait,
    channels: &[Channel],
) -> Result<Option<DateTime<Utc>>> {
    next_due_after(db, channels, None).await
}

/// When the next delivery on `channels` falls due after `after` (when given): the
/// earliest retry or pending time, or lease end.
pub async fn next_due_after(
    db: &impl ConnectionTrait,
    channels: &[Channel],
    after: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>> {
    let mut next: Option<DateTime<Utc>> = None;
    for (state, column, after) in [
        (
            DeliveryState::Pending,
            deliveries::Column::NextAttemptAt,
            after,
        ),
        (
            DeliveryState::Retrying,
            deliveries::Column::NextAttemptAt,
            after,
        ),
        (DeliveryState::Sending, deliveries::Column::LeaseUntil, None),
    ] {
        if let Some(t) = earliest(db, channels, state, column, after).await? {
            next = Some(next.map_or(t, |n| Ord::min(n, t)));
        }
    }
    Ok(next)
}

/// The earliest `column` among deliveries in `state` on `channels` (later than `after`),
/// one state at a time so it is read along `idx_deliveries_due` or
/// `idx_deliveries_lease` and never scans the delivered history.
async fn earliest(
    db: &impl ConnectionTrait,
    channels: &[Channel],
    state: DeliveryState,
    column: deliveries::Column,
    after: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>> {
    let mut q = deliveries::Entity::find()
        .select_only()
        .column(column)
        .filter(deliveries::Column::State.eq(state))
        .filter(column.is_not_null())
        .filter(deliveries::Column::Channel.is_in(channels.iter().copied()));
    if let Some(after) = after {
        q = q.filter(column.gt(after));
    }
    Ok(q.order_by_asc(column)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten())
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth another try (a 4xx, a refused connection, a timeout).
    Temporary(String),
    /// Refused for good (a 5xx for the recipient).
    Permanent(String),
    /// Not sent: the recipient left (unsubscribed, quarantined) or the event is gone.
    Cancelled(String),
    /// Worth another try, not before this long (an endpoint's `Retry-After`).
    RetryAfter(String, Duration),
    /// The endpoint is gone for good (HTTP 410): its subscriber is unsubscribed.
    Gone(String),
}

impl Outcome {
    /// The error, if it failed.
    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Delivered => None,
            Outcome::Temporary(e)
            | Outcome::Permanent(e)
            | Outcome::Cancelled(e)
            | Outcome::RetryAfter(e, _)
            | Outcome::Gone(e) => Some(e),
        }
    }
}

/// One attempt, with the delivery as claimed.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivery: deliveries::Model,
    pub outcome: Outcome,
    pub duration_ms: i32,
    /// The HTTP status an endpoint answered with.
    pub status_code: Option<i32>,
    /// The start of its response.
    pub response: Option<String>,
}

/// What [`finish`] did, for the metrics.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    pub delivered: u64,
    pub retrying: u64,
    pub failed: u64,
    pub dead: u64,
    pub cancelled: u64,
    pub quarantined: Vec<SubscriberId>,
    /// Endpoint subscribers whose endpoint started failing (`false`) or was paused
    /// (`true`) with this batch: their owners are told.
    pub endpoint_alerts: Vec<(SubscriberId, bool)>,
    /// Endpoint subscribers unsubscribed because the endpoint answered 410.
    pub gone: Vec<SubscriberId>,
    /// Each attempt's channel and result (delivered, retrying, failed, dead, cancelled).
    pub results: Vec<(Channel, &'static str)>,
}

/// Records a batch of attempts in one transaction: states, the next due times (with
/// `jitter` drawing 0..1 per retry), the attempts, and subscribers' bounces (quarantine
/// after [`notify::QUARANTINE_AFTER`] permanent refusals in a row).
pub async fn finish(
    db: &sea_orm::DatabaseConnection,
    done: &[Attempt],
    now: DateTime<Utc>,
    mut jitter: impl FnMut() -> f64,
) -> Result<Finished> {
    let mut f = Finished::default();
    if done.is_empty() {
        return Ok(f);
    }
    let txn = db.begin().await?;
    let mut f_alerts: Vec<(SubscriberId, bool)> = Vec::new();
    let delivered: Vec<i64> = done
        .iter()
        .filter(|a| a.outcome == Outcome::Delivered)
        .map(|a| a.delivery.id)
        .collect();
    for chunk in delivered.chunks(500) {
        deliveries::Entity::update_many()
            .col_expr(
                deliveries::Column::State,
                Expr::value(DeliveryState::Delivered),
            )
            .col_expr(
                deliveries::Column::Attempts,
                Expr::col(deliveries::Column::Attempts).add(1),
            )
            .col_expr(deliveries::Column::DeliveredAt, Expr::value(Some(now)))
            .col_expr(
                deliveries::Column::LeaseUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(deliveries::Column::LastError, Expr::value(None::<String>))
            .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
            .filter(deliveries::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    f.delivered = delivered.len() as u64;
    f.results.extend(
        done.iter()
            .filter(|a| a.outcome == Outcome::Delivered)
            .map(|a| (a.delivery.channel, "delivered")),
    );
    let good: Vec<SubscriberId> = done
        .iter()
        .filter(|a| a.outcome == Outcome::Delivered)
        .filter_map(|a| a.delivery.subscriber_id.clone())
        .collect();
    for chunk in good.chunks(500) {
        subscribers::Entity::update_many()
            .col_expr(subscribers::Column::BounceCount, Expr::value(0))
            .filter(subscribers::Column::Id.is_in(chunk.iter().cloned()))
            .filter(subscribers::Column::BounceCount.gt(0))
            .exec(&txn)
            .await?;
    }
    let mut well: BTreeMap<Channel, Vec<String>> = BTreeMap::new();
    for a in done.iter().filter(|a| a.outcome == Outcome::Delivered) {
        if a.delivery.channel != Channel::Email {
            well.entry(a.delivery.channel)
                .or_default()
                .push(a.delivery.recipient.clone());
        }
    }
    for (channel, urls) in &well {
        endpoints::succeeded(&txn, *channel, urls, now).await?;
    }
    for a in done.iter().filter(|a| a.outcome != Outcome::Delivered) {
        let d = &a.delivery;
        let attempts = d.attempts + 1;
        let hook = d.channel != Channel::Email;
        // An endpoint's next try: its schedule, or later if it asked (`Retry-After`).
        let hook_next = {
            let wait = webhook::retry_delay(attempts, jitter());
            let wait = match &a.outcome {
                Outcome::RetryAfter(_, after) => {
                    Ord::max(wait, Ord::min(*after, webhook::longest_retry_after()))
                }
                _ => wait,
            };
            now + wait
        };
        let failing = match &a.outcome {
            Outcome::Temporary(_) | Outcome::RetryAfter(..) | Outcome::Permanent(_) if hook => {
                let f = endpoints::failed(
                    &txn,
                    d.channel,
                    &d.recipient,
                    now,
                    d.due_since,
                    hook_next - d.due_since > notify::retry_budget(),
                )
                .await?;
                if let Some(sid) = &d.subscriber_id
                    && (f.warn || f.paused_now)
                {
                    f_alert(&mut f_alerts, sid, f.paused_now);
                }
                f
            }
            _ => endpoints::Failing::default(),
        };
        let (state, next, error) = match &a.outcome {
            Outcome::Temporary(e) | Outcome::RetryAfter(e, _) if hook => {
                let next = hook_next;
                if failing.paused || next - d.due_since <= notify::retry_budget() {
                    f.retrying += 1;
                    (DeliveryState::Retrying, next, e.clone())
                } else {
                    f.dead += 1;
                    (DeliveryState::Dead, now, e.clone())
                }
            }
            Outcome::Gone(e) => {
                f.failed += 1;
                if let Some(sid) = &d.subscriber_id {
                    f.gone.push(sid.clone());
                }
                (DeliveryState::Failed, now, e.clone())
            }
            Outcome::Temporary(e) | Outcome::RetryAfter(e, _) => {
                match notify::after_failure(true, d.due_since, attempts, now, jitter()) {
                    AfterFailure::Retry(at) => {
                        f.retrying += 1;
                        (DeliveryState::Retrying, at, e.clone())
                    }
                    _ => {
                        f.dead += 1;
                        (DeliveryState::Dead, now, e.clone())
                    }
                }
            }
            Outcome::Permanent(e) => {
                f.failed += 1;
                (DeliveryState::Failed, now, e.clone())
            }
            Outcome::Cancelled(why) => {
                f.cancelled += 1;
                (DeliveryState::Cancelled, now, why.clone())
            }
            Outcome::Delivered => continue,
        };
        f.results.push((
            d.channel,
            match state {
                DeliveryState::Retrying => "retrying",
                DeliveryState::Dead => "dead",
                DeliveryState::Cancelled => "cancelled",
                _ => "failed",
            },
        ));
        deliveries::Entity::update_many()
            .col_expr(deliveries::Column::State, Expr::value(state))
            .col_expr(
                deliveries::Column::Attempts,
                Expr::value(if matches!(a.outcome, Outcome::Cancelled(_)) {
                    d.attempts
                } else {
                    attempts
                }),
            )
            .col_expr(deliveries::Column::NextAttemptAt, Expr::value(next))
            .col_expr(
                deliveries::Column::LeaseUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(deliveries::Column::LastError, Expr::value(Some(error)))
            .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
            .filter(deliveries::Column::Id.eq(d.id))
            .exec(&txn)
            .await?;
        if let (Outcome::Permanent(_), Some(sid)) = (&a.outcome, &d.subscriber_id) {
            subscribers::Entity::update_many()
                .col_expr(
                    subscribers::Column::BounceCount,
                    Expr::col(subscribers::Column::BounceCount).add(1),
                )
                .filter(subscribers::Column::Id.eq(sid.clone()))
                .exec(&txn)
                .await?;
            let q = subscribers::Entity::update_many()
                .col_expr(
                    subscribers::Column::State,
                    Expr::value(SubscriberState::Quarantined),
                )
                .col_expr(subscribers::Column::QuarantinedAt, Expr::value(Some(now)))
                .col_expr(
                    subscribers::Column::PurgeAt,
                    Expr::value(Some(now + Duration::days(90))),
                )
                .col_expr(subscribers::Column::UpdatedAt, Expr::value(now))
                .filter(subscribers::Column::Id.eq(sid.clone()))
                .filter(subscribers::Column::State.eq(SubscriberState::Active))
                .filter(subscribers::Column::BounceCount.gte(notify::QUARANTINE_AFTER))
                .exec(&txn)
                .await?;
            if q.rows_affected > 0 {
                f.quarantined.push(sid.clone());
            }
        }
    }
    for sid in &f.gone {
        subscribers::Entity::update_many()
            .col_expr(
                subscribers::Column::State,
                Expr::value(SubscriberState::Unsubscribed),
            )
            .col_expr(subscribers::Column::UnsubscribedAt, Expr::value(Some(now)))
            .col_expr(subscribers::Column::UpdatedAt, Expr::value(now))
            .filter(subscribers::Column::Id.eq(sid.clone()))
            .exec(&txn)
            .await?;
    }
    f.endpoint_alerts = f_alerts;
    let rows: Vec<attempts::ActiveModel> = done
        .iter()
        .filter(|a| !matches!(a.outcome, Outcome::Cancelled(_)))
        .map(|a| {
            let outcome = match &a.outcome {
                Outcome::Delivered => "delivered",
                Outcome::Temporary(_) | Outcome::RetryAfter(..) => "temporary",
                Outcome::Permanent(_) | Outcome::Gone(_) => "permanent",
                Outcome::Cancelled(_) => "cancelled",
            };
            attempts::ActiveModel {
                delivery_id: Set(a.delivery.id),
                at: Set(now),
                outcome: Set(outcome.to_owned()),
                error: Set(a.outcome.error().map(str::to_owned)),
                duration_ms: Set(a.duration_ms),
                status_code: Set(a.status_code),
                response: Set(a.response.clone()),
                ..Default::default()
            }
        })
        .collect();
    for chunk in rows.chunks(200) {
        attempts::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(f)
}

fn f_alert(list: &mut Vec<(SubscriberId, bool)>, sid: &SubscriberId, paused: bool) {
    match list.iter_mut().find(|(s, _)| s == sid) {
        Some(e) => e.1 |= paused,
        None => list.push((sid.clone(), paused)),
    }
}

/// What the ledger can be asked for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub incident_id: Option<IncidentId>,
    pub update_id: Option<UpdateId>,
    pub recipient: Option<String>,
    pub channel: Option<Channel>,
    pub state: Option<DeliveryState>,
    /// Events from this sequence number on (a range's start).
    pub from_seq: Option<i64>,
    /// Events up to this sequence number (a range's end).
    pub to_seq: Option<i64>,
    /// Deliveries made at or after this time.
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    /// Whether it names something narrower than a channel or a state.
    pub fn is_narrow(&self) -> bool {
        self.incident_id.is_some()
            || self.update_id.is_some()
            || self.recipient.is_some()
            || self.from_seq.is_some()
            || self.to_seq.is_some()
            || self.since.is_some()
    }

    fn condition(&self) -> Condition {
        let mut c = Condition::all();
        if let Some(v) = &self.incident_id {
            c = c.add(deliveries::Column::IncidentId.eq(v.clone()));
        }
        if let Some(v) = &self.update_id {
            c = c.add(deliveries::Column::UpdateId.eq(v.clone()));
        }
        if let Some(v) = &self.recipient {
            c = c.add(deliveries::Column::Recipient.eq(v.clone()));
        }
        if let Some(v) = self.channel {
            c = c.add(deliveries::Column::Channel.eq(v));
        }
        if let Some(v) = self.state {
            c = c.add(deliveries::Column::State.eq(v));
        }
        if let Some(v) = self.from_seq {
            c = c.add(deliveries::Column::EventSeq.gte(v));
        }
        if let Some(v) = self.to_seq {
            c = c.add(deliveries::Column::EventSeq.lte(v));
        }
        if let Some(v) = self.since {
            c = c.add(deliveries::Column::CreatedAt.gte(v));
        }
        c
    }
}

/// A delivery with its attempts, newest first.
#[derive(Debug, Clone)]
pub struct Entry {
    pub delivery: deliveries::Model,
    pub attempts: Vec<attempts::Model>,
}

/// The newest deliveries matching `filter`, before id `before` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &Filter,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<Entry>> {
    let mut q = deliveries::Entity::find().filter(filter.condition());
    if let Some(b) = before {
        q = q.filter(deliveries::Column::Id.lt(b));
    }
    let rows = q
        .order_by_desc(deliveries::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
    let mut by: BTreeMap<i64, Vec<attempts::Model>> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        for a in attempts::Entity::find()
            .filter(attempts::Column::DeliveryId.is_in(chunk.iter().copied()))
            .order_by_desc(attempts::Column::Id)
            .all(db)
            .await?
        {
            by.entry(a.delivery_id).or_default().push(a);
        }
    }
    Ok(rows
        .into_iter()
        .map(|d| Entry {
            attempts: by.remove(&d.id).unwrap_or_default(),
            delivery: d,
        })
        .collect())
}

pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<Entry>> {
    let Some(d) = deliveries::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let attempts = attempts::Entity::find()
        .filter(attempts::Column::DeliveryId.eq(id))
        .order_by_desc(attempts::Column::Id)
        .all(db)
        .await?;
    Ok(Some(Entry {
        delivery: d,
        attempts,
    }))
}

/// Makes deliveries matching `filter` (and, if `only_given_up`, only those failed,
/// dead or cancelled) due again now, with a fresh retry budget. Returns how many.
pub async fn redeliver(
    db: &impl ConnectionTrait,
    filter: &Filter,
    id: Option<i64>,
    only_given_up: bool,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut c = filter.condition();
    if let Some(id) = id {
        c = c.add(deliveries::Column::Id.eq(id));
    }
    if only_given_up {
        c = c.add(deliveries::Column::State.is_in([
            DeliveryState::Failed,
            DeliveryState::Dead,
            DeliveryState::Cancelled,
        ]));
    } else {
        c = c.add(deliveries::Column::State.ne(DeliveryState::Sending));
    }
    let r = deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::State,
            Expr::value(DeliveryState::Pending),
        )
        .col_expr(deliveries::Column::NextAttemptAt, Expr::value(now))
        .col_expr(deliveries::Column::DueSince, Expr::value(now))
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(c)
        .exec(db)
        .await?;
    Ok(r.rows_affected)
}

/// Deliveries of an incident by channel and state, for the admin API.
pub async fn counts_for_incident(
    db: &impl ConnectionTrait,
    incident: &IncidentId,
) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let rows: Vec<(Channel, DeliveryState, i64)> = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Channel)
        .column(deliveries::Column::State)
        .column_as(deliveries::Column::Id.count(), "n")
        .filter(deliveries::Column::IncidentId.eq(incident.clone()))
        .group_by(deliveries::Column::Channel)
        .group_by(deliveries::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (channel, state, n) in rows {
        out.entry(channel.to_string())
            .or_default()
            .insert(state.to_string(), u64::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

/// The ledger in figures, for `/metrics` and `/readyz`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Depth {
    /// Deliveries not yet done (due, retrying or being sent).
    pub undelivered: u64,
    /// The oldest of them, by when it became due.
    pub oldest_due: Option<DateTime<Utc>>,
    pub dead: u64,
    pub failed: u64,
}

pub async fn depth(db: &impl ConnectionTrait) -> Result<Depth> {
    let open = [
        DeliveryState::Pending,
        DeliveryState::Retrying,
        DeliveryState::Sending,
    ];
    let undelivered = deliveries::Entity::find()
        .filter(deliveries::Column::State.is_in(open))
        .count(db)
        .await?;
    let oldest_due = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::DueSince)
        .filter(deliveries::Column::State.is_in(open))
        .order_by_asc(deliveries::Column::DueSince)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await?;
    let dead = deliveries::Entity::find()
        .filter(deliveries::Column::State.eq(DeliveryState::Dead))
        .count(db)
        .await?;
    let failed = deliveries::Entity::find()
        .filter(deliveries::Column::State.eq(DeliveryState::Failed))
        .count(db)
        .await?;
    Ok(Depth {
        undelivered,
        oldest_due,
        dead,
        failed,
    })
}

/// Releases every lease (at start on SQLite, where no other instance can hold one):
/// what was being sent when the process stopped is due again at once.
pub async fn release_all(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64> {
    let r = deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::State,
            Expr::value(DeliveryState::Pending),
        )
        .col_expr(deliveries::Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            deliveries::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(deliveries::Column::State.eq(DeliveryState::Sending))
        .exec(db)
        .await?;
    Ok(r.rows_affected)
}
