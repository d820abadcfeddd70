//! Console sessions: the cookie carries a random id, the database a SHA-256 of it with
//! the session's CSRF secret. A session ends after 12 idle hours or 7 days, whichever
//! comes first, and at sign-out.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::{
    Result,
    entity::console_sessions as sessions,
    tokens::Secret,
    users::{self, User, random_secret, sha256_hex},
};
use crate::domain::{UserId, user::session_alive};

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    /// The token every form of the session carries.
    pub csrf: String,
}

/// Starts a session; the id for the cookie is returned once.
pub async fn start(db: &impl ConnectionTrait, user: &UserId, now: DateTime<Utc>) -> Result<Secret> {
    let id = random_secret();
    sessions::ActiveModel {
        id_hash: Set(sha256_hex(&id)),
        user_id: Set(user.clone()),
        csrf_secret: Set(random_secret()),
        created_at: Set(now),
        last_seen_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(Secret(id))
}

/// The live session with this id, if any; a dead one is removed. Marks it seen (at most
/// once a minute).
pub async fn find(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>> {
    if id.is_empty() || id.len() > 128 {
        return Ok(None);
    }
    let hash = sha256_hex(id);
    let Some(s) = sessions::Entity::find_by_id(hash.clone()).one(db).await? else {
        return Ok(None);
    };
    let user = users::row(db, &s.user_id).await.ok();
    let alive = session_alive(s.created_at, s.last_seen_at, now);
    let Some(user) = user.filter(|u| alive && u.disabled_at.is_none()) else {
        sessions::Entity::delete_by_id(hash).exec(db).await?;
        return Ok(None);
    };
    if now - s.last_seen_at > Duration::minutes(1) {
        let csrf = s.csrf_secret.clone();
        let mut am: sessions::ActiveModel = s.into();
        am.last_seen_at = Set(now);
        am.update(db).await?;
        return Ok(Some(Session {
            user: user.into(),
            csrf,
        }));
    }
    Ok(Some(Session {
        user: user.into(),
        csrf: s.csrf_secret,
    }))
}

/// Ends the session with this id (signing out).
pub async fn end(db: &impl ConnectionTrait, id: &str) -> Result<()> {
    sessions::Entity::delete_many()
        .filter(sessions::Column::IdHash.eq(sha256_hex(id)))
        .exec(db)
        .await?;
    Ok(())
}
