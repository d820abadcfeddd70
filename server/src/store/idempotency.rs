//! `Idempotency-Key` on POST: the same key and body within 24 hours replays the first
//! answer. The key is claimed before the request runs, so two concurrent retries cannot
//! both create.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::{Result, StoreError, entity::idempotency_keys as keys};

#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use: run the request, then `finish` or `release`.
    New,
    /// Seen before with the same body: answer this.
    Replay { status: u16, body: String },
    /// Seen before and still running.
    InFlight,
    /// Seen before with another body.
    Mismatch,
}

pub async fn claim(
    db: &impl ConnectionTrait,
    token_id: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Claim> {
    keys::Entity::delete_many()
        .filter(keys::Column::CreatedAt.lt(now - Duration::hours(24)))
        .exec(db)
        .await?;
    let inserted = keys::ActiveModel {
        token_id: Set(token_id.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        response_status: Set(None),
        response_body: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await;
    match inserted.map_err(StoreError::from) {
        Ok(_) => Ok(Claim::New),
        Err(StoreError::Conflict(_)) => {
            let Some(existing) = keys::Entity::find_by_id((token_id.to_owned(), key.to_owned()))
                .one(db)
                .await?
            else {
                return Ok(Claim::InFlight);
            };
            if existing.request_hash != request_hash {
                return Ok(Claim::Mismatch);
            }
            // A claim whose request never finished (the client went away mid-request) is
            // taken over after a minute rather than blocking retries for a day.
            if existing.response_status.is_none()
                && existing.created_at < now - Duration::minutes(1)
            {
                let mut am: keys::ActiveModel = existing.into();
                am.created_at = Set(now);
                am.update(db).await?;
                return Ok(Claim::New);
            }
            match (existing.response_status, existing.response_body) {
                (Some(status), Some(body)) => Ok(Claim::Replay {
                    status: u16::try_from(status).unwrap_or(200),
                    body,
                }),
                _ => Ok(Claim::InFlight),
            }
        }
        Err(e) => Err(e),
    }
}

pub async fn finish(
    db: &impl ConnectionTrait,
    token_id: &str,
    key: &str,
    status: u16,
    body: String,
) -> Result<()> {
    keys::Entity::update_many()
        .col_expr(
            keys::Column::ResponseStatus,
            sea_orm::sea_query::Expr::value(i32::from(status)),
        )
        .col_expr(
            keys::Column::ResponseBody,
            sea_orm::sea_query::Expr::value(body),
        )
        .filter(keys::Column::TokenId.eq(token_id))
        .filter(keys::Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Forgets a claim whose request failed, so the client can retry with the same key.
pub async fn release(db: &impl ConnectionTrait, token_id: &str, key: &str) -> Result<()> {
    keys::Entity::delete_by_id((token_id.to_owned(), key.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}
