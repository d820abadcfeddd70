//! API tokens: random, shown once, stored as a SHA-256 hash.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, distr::Alphanumeric};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use super::{Result, StoreError, entity::api_tokens, new_id};
use crate::domain::{Role, TokenId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: TokenId,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_tokens::Model> for Token {
    fn from(m: api_tokens::Model) -> Self {
        Token {
            role: m.role,
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// The secret a client presents. Redacted in `Debug`.
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates a token; the secret is returned once and never stored.
pub async fn create(
    db: &impl ConnectionTrait,
    name: &str,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(Token, Secret)> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid("name", "a token needs a name"));
    }
    let name = &crate::domain::text::name("name", name)?;
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let secret = format!("hrld_{random}");
    let model = api_tokens::ActiveModel {
        id: Set(TokenId::new(new_id())),
        name: Set(name.trim().to_owned()),
        role: Set(role),
        token_hash: Set(hash(&secret)),
        prefix: Set(secret.chars().take(9).collect()),
        created_at: Set(now),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((model.into(), Secret(secret)))
}

/// The live token with this secret, if any. Marks it used at most once a minute.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<Token>> {
    let found = api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(hash(secret)))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .one(db)
        .await?;
    let Some(model) = found else { return Ok(None) };
    if model
        .last_used_at
        .is_none_or(|t| now - t > Duration::minutes(1))
    {
        let mut am: api_tokens::ActiveModel = model.clone().into();
        am.last_used_at = Set(Some(now));
        am.update(db).await?;
    }
    Ok(Some(model.into()))
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Token>> {
    Ok(api_tokens::Entity::find()
        .order_by_asc(api_tokens::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(Token::from)
        .collect())
}

/// Revokes a token by id or by its printed prefix; `by` is the token asking, which
/// cannot revoke itself. The last live admin token is never revoked. Revoking a revoked
/// token changes nothing.
async fn revoke(
    db: &impl ConnectionTrait,
    id_or_prefix: &str,
    by: Option<&TokenId>,
    now: DateTime<Utc>,
) -> Result<Token> {
    let mut found = api_tokens::Entity::find()
        .filter(
            Condition::any()
                .add(api_tokens::Column::Id.eq(TokenId::from(id_or_prefix)))
                .add(api_tokens::Column::Prefix.eq(id_or_prefix)),
        )
        .all(db)
        .await?;
    if found.len() > 1 {
        return Err(StoreError::Conflict(format!(
            "'{id_or_prefix}' names {} tokens; use the token's id",
            found.len()
        )));
    }
    let model = found
        .pop()
        .ok_or_else(|| StoreError::not_found("token", id_or_prefix))?;
    if let Some(by) = by
        && by == &model.id
    {
        return Err(StoreError::Conflict(
            "a token cannot revoke itself: revoke it with another admin token, or with `herald token revoke`".into(),
        ));
    }
    if model.role == Role::Admin && model.revoked_at.is_none() {
        let admins = api_tokens::Entity::find()
            .filter(api_tokens::Column::Role.eq(Role::Admin))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .count(db)
            .await?;
        if admins <= 1 {
            return Err(StoreError::Conflict(
                "this is the last active admin token: create another admin token first, so Herald can still be administered".into(),
            ));
        }
    }
    if model.revoked_at.is_some() {
        return Ok(model.into());
    }
    let mut am: api_tokens::ActiveModel = model.into();
    am.revoked_at = Set(Some(now));
    Ok(am.update(db).await?.into())
}

/// Whether any live admin token exists (the first start prints one if not).
pub async fn has_admin(db: &impl ConnectionTrait) -> Result<bool> {
    Ok(api_tokens::Entity::find()
        .filter(api_tokens::Column::Role.eq(Role::Admin))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .is_some())
}

/// Creates a token inside a write, with its audit record.
pub async fn issue(w: &mut super::Write, name: &str, role: Role) -> Result<(Token, Secret)> {
    let (t, s) = create(w.conn(), name, role, w.now()).await?;
    w.audit(
        "api_token.create",
        "api_token",
        t.id.as_str(),
        serde_json::json!({"name": t.name, "role": t.role}),
    )
    .await?;
    Ok((t, s))
}

/// Revokes a token inside a write, with its audit record.
pub async fn withdraw(w: &mut super::Write, id_or_prefix: &str) -> Result<Token> {
    let by = w.actor().token_id.clone();
    let t = revoke(w.conn(), id_or_prefix, by.as_ref(), w.now()).await?;
    w.audit(
        "api_token.revoke",
        "api_token",
        t.id.as_str(),
        serde_json::json!({"name": t.name}),
    )
    .await?;
    Ok(t)
}
