//! The ordered, durable event log: the source of cache invalidation, notifications and
//! the backfill API.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Result, entity::events};
use crate::domain::Event;

/// An event as stored: its kind and payload as written, and the typed event when this
/// version knows the kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub seq: i64,
    pub kind: String,
    pub subject_type: String,
    pub subject_id: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub event: Option<Event>,
}

/// Events after `after`, oldest first.
pub async fn list_after(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<Recorded>> {
    Ok(events::Entity::find()
        .filter(events::Column::Seq.gt(after))
        .order_by_asc(events::Column::Seq)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|m| {
            let payload: serde_json::Value =
                serde_json::from_str(&m.payload).unwrap_or(serde_json::Value::Null);
            Recorded {
                event: Event::from_parts(&m.kind, payload.clone()),
                seq: m.seq,
                kind: m.kind,
                subject_type: m.subject_type,
                subject_id: m.subject_id,
                payload,
                created_at: m.created_at,
            }
        })
        .collect())
}

/// One event by its sequence number.
pub async fn get(db: &impl ConnectionTrait, seq: i64) -> Result<Option<Recorded>> {
    Ok(list_after(db, seq - 1, 1)
        .await?
        .into_iter()
        .find(|r| r.seq == seq))
}

/// The newest sequence number, 0 when the log is empty: the version of everything.
pub async fn latest_seq(db: &impl ConnectionTrait) -> Result<i64> {
    Ok(events::Entity::find()
        .select_only()
        .column_as(events::Column::Seq.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten()
        .unwrap_or(0))
}

/// The newest sequence number of an event readers of the public page can see.
pub async fn latest_public_seq(db: &impl ConnectionTrait) -> Result<i64> {
    Ok(events::Entity::find()
        .select_only()
        .column_as(events::Column::Seq.max(), "max")
        .filter(
            events::Column::Kind.is_not_in(crate::domain::events::PRIVATE_KINDS.iter().copied()),
        )
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten()
        .unwrap_or(0))
}
