//! Webhook and chat endpoints (a channel and a URL): the sender's ordered claim (one
//! delivery in flight per endpoint, in event order, never behind another endpoint), and
//! each endpoint's failure streak, owner warning and pause.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Set,
    sea_query::{Expr, OnConflict},
};

use super::{
    Result,
    entity::{deliveries, endpoints},
    outbox::{skip_locked, statement},
};
use crate::domain::{Channel, DeliveryState, webhook};

/// The channels that go to endpoints.
pub const CHANNELS: &[Channel] = &[
    Channel::Webhook,
    Channel::Slack,
    Channel::Discord,
    Channel::Teams,
];

fn channel_list() -> String {
    CHANNELS
        .iter()
        .map(|c| format!("'{}'", c.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Claims up to `limit` endpoint deliveries due at `now`, for `lease`: for each endpoint
/// only its earliest unfinished delivery (by event), so one is in flight per endpoint and
/// a receiver sees events in order; nothing while an earlier event is still being
/// expanded (its delivery may not exist yet) or while the endpoint is paused. An
/// endpoint whose earliest delivery waits for a retry holds up only itself.
pub async fn claim(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<deliveries::Model>> {
    let backend = db.get_database_backend();
    let list = channel_list();
    let sql = if backend == sea_orm::DbBackend::Sqlite {
        // The same, as ordered index ranges that stop at the limit (see `due_arms`); the
        // outbox's earliest unfinished event is looked up once, not per candidate.
        let arm = |due: &str| {
            format!(
                "SELECT * FROM (SELECT d.id, d.next_attempt_at FROM deliveries d \
                 WHERE {due} AND d.channel IN ({list}) \
                 AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = d.channel \
                   AND e.recipient = d.recipient AND e.event_seq < d.event_seq \
                   AND e.state IN ('pending', 'retrying', 'sending')) \
                 AND d.event_seq <= COALESCE((SELECT MIN(o.event_seq) FROM outbox o \
                   WHERE o.state <> 'done'), d.event_seq) \
                 AND NOT EXISTS (SELECT 1 FROM endpoints p WHERE p.channel = d.channel \
                   AND p.url = d.recipient AND p.paused_at IS NOT NULL) \
                 ORDER BY d.next_attempt_at, d.id LIMIT {limit})"
            )
        };
        format!(
            "UPDATE deliveries SET state = 'sending', lease_until = $1, updated_at = $2 \
             WHERE id IN (SELECT id FROM ({}) ORDER BY next_attempt_at, id LIMIT {limit}) \
             RETURNING *",
            super::deliveries::due_arms("d.", &arm)
        )
    } else {
        format!(
            "UPDATE deliveries SET state = 'sending', lease_until = $1, updated_at = $2 \
         WHERE id IN (SELECT d.id FROM deliveries d WHERE d.channel IN ({list}) AND \
         ((d.state IN ('pending', 'retrying') AND d.next_attempt_at <= $2) \
         OR (d.state = 'sending' AND d.lease_until < $2)) \
         AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = d.channel \
           AND e.recipient = d.recipient AND e.event_seq < d.event_seq \
           AND e.state IN ('pending', 'retrying', 'sending')) \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_seq < d.event_seq \
           AND o.state <> 'done') \
         AND NOT EXISTS (SELECT 1 FROM endpoints p WHERE p.channel = d.channel \
           AND p.url = d.recipient AND p.paused_at IS NOT NULL) \
         ORDER BY d.next_attempt_at, d.id LIMIT {limit}{}) RETURNING *",
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

/// When the next endpoint delivery falls due after `now`, or a lease runs out (for the
/// sender's sleep; what is due already but was not claimed waits for something else).
pub async fn next_due_after(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>> {
    super::deliveries::next_due_after(db, CHANNELS, Some(now)).await
}

/// An endpoint's row, made if it is not there.
pub async fn get_or_make(
    db: &impl ConnectionTrait,
    channel: Channel,
    url: &str,
    now: DateTime<Utc>,
) -> Result<endpoints::Model> {
    endpoints::Entity::insert(endpoints::ActiveModel {
        channel: Set(channel),
        url: Set(url.to_owned()),
        failing_since: Set(None),
        warned_at: Set(None),
        paused_at: Set(None),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([endpoints::Column::Channel, endpoints::Column::Url])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    endpoints::Entity::find()
        .filter(endpoints::Column::Channel.eq(channel))
        .filter(endpoints::Column::Url.eq(url))
        .one(db)
        .await?
        .ok_or_else(|| super::StoreError::not_found("endpoint", url))
}

/// An endpoint's row, if it has one.
pub async fn get(
    db: &impl ConnectionTrait,
    channel: Channel,
    url: &str,
) -> Result<Option<endpoints::Model>> {
    Ok(endpoints::Entity::find()
        .filter(endpoints::Column::Channel.eq(channel))
        .filter(endpoints::Column::Url.eq(url))
        .one(db)
        .await?)
}

/// Deliveries to these endpoints of `channel` went through: they are well (one
/// statement per few hundred endpoints).
pub async fn succeeded(
    db: &impl ConnectionTrait,
    channel: Channel,
    urls: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    for chunk in urls.chunks(500) {
        endpoints::Entity::update_many()
            .col_expr(
                endpoints::Column::FailingSince,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(
                endpoints::Column::WarnedAt,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(endpoints::Column::UpdatedAt, Expr::value(now))
            .filter(endpoints::Column::Channel.eq(channel))
            .filter(endpoints::Column::Url.is_in(chunk.iter().cloned()))
            .filter(endpoints::Column::FailingSince.is_not_null())
            .exec(db)
            .await?;
    }
    Ok(())
}

/// What a failure did to its endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failing {
    /// The owner is to be told it is failing (once per streak).
    pub warn: bool,
    /// It was paused just now.
    pub paused_now: bool,
    /// It is paused (its deliveries wait).
    pub paused: bool,
}

/// An attempt of a delivery due since `due_since` failed: the endpoint's streak starts
/// (or goes on); after [`webhook::warn_after`] its owner is told; after
/// [`webhook::pause_after`], or when the delivery's retry budget runs out
/// (`out_of_budget`) while the endpoint has failed all along, it is paused rather than
/// its deliveries given up.
pub async fn failed(
    db: &impl ConnectionTrait,
    channel: Channel,
    url: &str,
    now: DateTime<Utc>,
    due_since: DateTime<Utc>,
    out_of_budget: bool,
) -> Result<Failing> {
    let e = get_or_make(db, channel, url, now).await?;
    let since = e.failing_since.unwrap_or(now);
    let warn = e.warned_at.is_none() && now - since >= webhook::warn_after();
    // A delivery out of budget on an endpoint that has not taken anything for half the
    // budget or more (since it was due, or at least a day and a half): the endpoint is
    // down rather than refusing this one delivery, so it is paused and nothing is lost.
    let down_all_along = out_of_budget
        && (since <= due_since + Duration::minutes(5)
            || now - since >= crate::domain::notify::retry_budget() / 2);
    let paused_now =
        e.paused_at.is_none() && (now - since >= webhook::pause_after() || down_all_along);
    let mut m: endpoints::ActiveModel = e.clone().into();
    m.failing_since = Set(Some(since));
    if warn {
        m.warned_at = Set(Some(now));
    }
    if paused_now {
        m.paused_at = Set(Some(now));
    }
    m.updated_at = Set(now);
    endpoints::Entity::update(m).exec(db).await?;
    Ok(Failing {
        warn,
        paused_now,
        paused: paused_now || e.paused_at.is_some(),
    })
}

/// Resumes endpoints (re-enabled through the API): no longer paused, the failure streak
/// forgotten, and what waited for them (retrying, or given up while they failed) due
/// now in order, with a fresh retry budget. Returns how many deliveries are due again.
pub async fn resume(
    db: &impl ConnectionTrait,
    list: &[(Channel, String)],
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut n = 0;
    for (channel, url) in list {
        let Some(e) = get(db, *channel, url).await? else {
            continue;
        };
        let since = e.failing_since.or(e.paused_at);
        endpoints::Entity::update_many()
            .col_expr(
                endpoints::Column::PausedAt,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(
                endpoints::Column::FailingSince,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(
                endpoints::Column::WarnedAt,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(endpoints::Column::UpdatedAt, Expr::value(now))
            .filter(endpoints::Column::Id.eq(e.id))
            .exec(db)
            .await?;
        let mut q = deliveries::Entity::update_many()
            .col_expr(
                deliveries::Column::State,
                Expr::value(DeliveryState::Pending),
            )
            .col_expr(deliveries::Column::NextAttemptAt, Expr::value(now))
            .col_expr(deliveries::Column::DueSince, Expr::value(now))
            .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
            .filter(deliveries::Column::Channel.eq(*channel))
            .filter(deliveries::Column::Recipient.eq(url.clone()));
        if let Some(since) = since {
            // What died while the endpoint was failing is sent too, in its place.
            q = q.filter(
                sea_orm::Condition::any()
                    .add(
                        deliveries::Column::State
                            .is_in([DeliveryState::Retrying, DeliveryState::Pending]),
                    )
                    .add(
                        sea_orm::Condition::all()
                            .add(deliveries::Column::State.eq(DeliveryState::Dead))
                            .add(deliveries::Column::CreatedAt.gte(since - Duration::days(4))),
                    ),
            );
        } else {
            q = q.filter(
                deliveries::Column::State.is_in([DeliveryState::Retrying, DeliveryState::Pending]),
            );
        }
        n += q.exec(db).await?.rows_affected;
    }
    Ok(n)
}

/// Paused endpoints, for the metrics.
pub async fn paused(db: &impl ConnectionTrait) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(endpoints::Entity::find()
        .filter(endpoints::Column::PausedAt.is_not_null())
        .count(db)
        .await?)
}
