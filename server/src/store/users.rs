//! Console users: people with a role, a password (Argon2id) and one-time sign-in links
//! (only a SHA-256 of each link's token is stored, and a link works once).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde_json::json;

use super::{
    Result, StoreError, Write,
    entity::{console_sessions, sign_in_links as links, users},
    new_id,
    tokens::Secret,
};
use crate::domain::{
    Event, PageId, Role, UserId,
    user::{Purpose, link_lifetime},
};

/// A person as the API and the console show them (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        User {
            has_password: m.password_hash.is_some(),
            id: m.id,
            email: m.email,
            name: m.name,
            role: m.role,
            created_at: m.created_at,
            updated_at: m.updated_at,
            disabled_at: m.disabled_at,
        }
    }
}

impl User {
    /// How the audit log names the person: "Ada Lovelace <ada@example.com>".
    pub fn actor_name(&self) -> String {
        if self.name == self.email {
            self.email.clone()
        } else {
            format!("{} <{}>", self.name, self.email)
        }
    }
}

/// A new user: the name defaults to the address.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
}

/// Fields to change; `None` leaves one alone.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// The lowercased address two users may not share on one page.
fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

pub(super) fn sha256_hex(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 32 random bytes, URL-safe.
pub(super) fn random_secret() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn taken(
    db: &impl ConnectionTrait,
    page: &PageId,
    email: &str,
    except: Option<&UserId>,
) -> Result<bool> {
    let mut q = users::Entity::find()
        .filter(users::Column::PageId.eq(page.clone()))
        .filter(users::Column::EmailKey.eq(email_key(email)));
    if let Some(id) = except {
        q = q.filter(users::Column::Id.ne(id.clone()));
    }
    Ok(q.one(db).await?.is_some())
}

fn conflict(email: &str) -> StoreError {
    StoreError::Conflict(format!("a user with the address {email} already exists"))
}

/// Creates a user (without a password), with its audit record.
#[tracing::instrument(skip_all, fields(user))]
pub async fn create(w: &mut Write, new: NewUser) -> Result<User> {
    let email = crate::domain::notify::email("email", &new.email)?;
    let name = match new.name.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(n) => crate::domain::text::name("name", n)?,
        None => email.clone(),
    };
    if taken(w.conn(), w.page_id(), &email, None).await? {
        return Err(conflict(&email));
    }
    let id = UserId::new(new_id());
    tracing::Span::current().record("user", id.as_str());
    let m = users::ActiveModel {
        id: Set(id),
        page_id: Set(w.page_id().clone()),
        email_key: Set(email_key(&email)),
        email: Set(email),
        name: Set(name),
        role: Set(new.role),
        password_hash: Set(None),
        created_at: Set(w.now()),
        updated_at: Set(w.now()),
        disabled_at: Set(None),
    }
    .insert(w.conn())
    .await?;
    w.audit(
        "user.create",
        "user",
        m.id.as_str(),
        json!({"email": m.email, "name": m.name, "role": m.role}),
    )
    .await?;
    Ok(m.into())
}

/// Asks for a sign-in link to be mailed to the user (an invitation or a reset). The
/// link is made when the mail goes out.
pub async fn request_link(w: &mut Write, id: &UserId, purpose: Purpose) -> Result<()> {
    w.record(&[Event::SignInRequested {
        user_id: id.clone(),
        purpose: purpose.as_str().to_owned(),
    }])
    .await
}

pub async fn list(db: &impl ConnectionTrait, page: &PageId) -> Result<Vec<User>> {
    Ok(users::Entity::find()
        .filter(users::Column::PageId.eq(page.clone()))
        .order_by_asc(users::Column::CreatedAt)
        .order_by_asc(users::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(User::from)
        .collect())
}

pub async fn row(db: &impl ConnectionTrait, id: &UserId) -> Result<users::Model> {
    users::Entity::find_by_id(id.clone())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("user", id.as_str()))
}

pub async fn get(db: &impl ConnectionTrait, id: &UserId) -> Result<User> {
    Ok(row(db, id).await?.into())
}

/// The user with this address on the page, if any.
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    page: &PageId,
    email: &str,
) -> Result<Option<users::Model>> {
    Ok(users::Entity::find()
        .filter(users::Column::PageId.eq(page.clone()))
        .filter(users::Column::EmailKey.eq(email_key(email)))
        .one(db)
        .await?)
}

/// The people of a page whose name or address contains `q`, oldest first: at most
/// `limit` from `offset`, and whether there are more.
pub async fn search(
    db: &impl ConnectionTrait,
    page: &PageId,
    q: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<(Vec<User>, bool)> {
    let mut find = users::Entity::find().filter(users::Column::PageId.eq(page.clone()));
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        use sea_orm::sea_query::{ExprTrait, Func, LikeExpr};
        let pattern = format!("%{}%", like_escape(&q.to_lowercase()));
        let like = |col: users::Column| {
            Expr::expr(Func::lower(Expr::col(col)))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        find = find.filter(
            sea_orm::Condition::any()
                .add(like(users::Column::EmailKey))
                .add(like(users::Column::Name)),
        );
    }
    let mut rows: Vec<User> = find
        .order_by_asc(users::Column::CreatedAt)
        .order_by_asc(users::Column::Id)
        .limit(limit + 1)
        .offset(offset)
        .all(db)
        .await?
        .into_iter()
        .map(User::from)
        .collect();
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((rows, more))
}

/// `%`, `_` and `\` taken literally in a LIKE pattern.
fn like_escape(q: &str) -> String {
    q.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The rule that keeps the console manageable: the last enabled admin is not removed,
/// demoted or disabled (by the API or the console), as the last admin token is not
/// revoked.
async fn keep_an_admin(db: &impl ConnectionTrait, current: &users::Model) -> Result<()> {
    if current.role != Role::Admin || current.disabled_at.is_some() {
        return Ok(());
    }
    let others = users::Entity::find()
        .filter(users::Column::PageId.eq(current.page_id.clone()))
        .filter(users::Column::Role.eq(Role::Admin))
        .filter(users::Column::DisabledAt.is_null())
        .filter(users::Column::Id.ne(current.id.clone()))
        .count(db)
        .await?;
    if others == 0 {
        return Err(StoreError::Conflict(format!(
            "{} is the last admin: make someone else an admin first, so the console can still be managed",
            current.email
        )));
    }
    Ok(())
}

/// Changes a user, with its audit record. Disabling one ends their sessions. The last
/// enabled admin keeps their role and stays enabled.
#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn update(w: &mut Write, id: &UserId, c: UserChanges) -> Result<User> {
    let current = row(w.conn(), id).await?;
    if c.role.is_some_and(|r| r != Role::Admin) || c.disabled == Some(true) {
        keep_an_admin(w.conn(), &current).await?;
    }
    let mut am: users::ActiveModel = current.clone().into();
    let mut changed = serde_json::Map::new();
    if let Some(e) = c.email {
        let email = crate::domain::notify::email("email", &e)?;
        if email != current.email {
            if taken(w.conn(), w.page_id(), &email, Some(id)).await? {
                return Err(conflict(&email));
            }
            changed.insert("email".into(), json!(email));
            am.email_key = Set(email_key(&email));
            am.email = Set(email);
        }
    }
    if let Some(n) = c.name {
        let name = crate::domain::text::name("name", &n)?;
        if name != current.name {
            changed.insert("name".into(), json!(name));
            am.name = Set(name);
        }
    }
    if let Some(r) = c.role
        && r != current.role
    {
        changed.insert("role".into(), json!(r));
        am.role = Set(r);
    }
    if let Some(d) = c.disabled
        && d != current.disabled_at.is_some()
    {
        changed.insert("disabled".into(), json!(d));
        am.disabled_at = Set(d.then(|| w.now()));
    }
    if changed.is_empty() {
        return Ok(current.into());
    }
    am.updated_at = Set(w.now());
    let m = am.update(w.conn()).await?;
    if m.disabled_at.is_some() || changed.contains_key("role") {
        // Whoever was signed in signs in again, with the new role or not at all.
        end_sessions(w.conn(), id).await?;
    }
    w.audit(
        "user.update",
        "user",
        id.as_str(),
        serde_json::Value::Object(changed),
    )
    .await?;
    Ok(m.into())
}

#[tracing::instrument(skip_all, fields(user = %id))]
pub async fn delete(w: &mut Write, id: &UserId) -> Result<User> {
    let current = row(w.conn(), id).await?;
    keep_an_admin(w.conn(), &current).await?;
    end_sessions(w.conn(), id).await?;
    links::Entity::delete_many()
        .filter(links::Column::UserId.eq(id.clone()))
        .exec(w.conn())
        .await?;
    users::Entity::delete_by_id(id.clone())
        .exec(w.conn())
        .await?;
    w.audit(
        "user.delete",
        "user",
        id.as_str(),
        json!({"email": current.email}),
    )
    .await?;
    Ok(current.into())
}

/// Ends every console session of a user.
pub async fn end_sessions(db: &impl ConnectionTrait, id: &UserId) -> Result<()> {
    console_sessions::Entity::delete_many()
        .filter(console_sessions::Column::UserId.eq(id.clone()))
        .exec(db)
        .await?;
    Ok(())
}

/// Makes a one-time link for the user; the token is returned once and only its hash
/// is stored.
pub async fn issue_link(
    db: &impl ConnectionTrait,
    id: &UserId,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Secret> {
    let token = random_secret();
    links::ActiveModel {
        id: Set(new_id()),
        user_id: Set(id.clone()),
        token_hash: Set(sha256_hex(&token)),
        purpose: Set(purpose.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(now + link_lifetime()),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(Secret(token))
}

/// The user a link's token is for, and why, while the link is unused, unexpired and
/// the user enabled.
pub async fn link(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<(users::Model, Purpose)>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let Some(l) = links::Entity::find()
        .filter(links::Column::TokenHash.eq(sha256_hex(token)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if l.used_at.is_some() || l.expires_at <= now {
        return Ok(None);
    }
    let user = users::Entity::find_by_id(l.user_id.clone()).one(db).await?;
    Ok(user
        .filter(|u| u.disabled_at.is_none())
        .map(|u| (u, Purpose::parse(&l.purpose))))
}

/// Uses a link: sets the password (already hashed) and voids every link the user holds,
/// in the write. `None` when the link no longer works.
#[tracing::instrument(skip_all)]
pub async fn redeem(w: &mut Write, token: &str, password_hash: String) -> Result<Option<User>> {
    let Some((user, purpose)) = link(w.conn(), token, w.now()).await? else {
        return Ok(None);
    };
    links::Entity::update_many()
        .col_expr(links::Column::UsedAt, Expr::value(w.now()))
        .filter(links::Column::UserId.eq(user.id.clone()))
        .filter(links::Column::UsedAt.is_null())
        .exec(w.conn())
        .await?;
    // A new password signs out every other session.
    end_sessions(w.conn(), &user.id).await?;
    let mut am: users::ActiveModel = user.clone().into();
    am.password_hash = Set(Some(password_hash));
    am.updated_at = Set(w.now());
    let m = am.update(w.conn()).await?;
    w.audit(
        "user.set_password",
        "user",
        m.id.as_str(),
        json!({"email": m.email, "by": purpose.as_str()}),
    )
    .await?;
    Ok(Some(m.into()))
}

/// Argon2id with the crate's recommended cost; slow on purpose, so callers run it off
/// the request threads.
pub fn hash_password(password: &str) -> Result<String> {
    use argon2::{
        Argon2, PasswordHasher,
        password_hash::{SaltString, rand_core::OsRng},
    };
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Corrupt(format!("hashing a password: {e}")))
}

/// A stand-in hash checked when no user matches, so a wrong address takes as long as a
/// wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not anyone's password").unwrap_or_default())
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::{Argon2, PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Creates a user outside a server (the CLI) and returns a one-time link's token.
pub async fn create_with_link(w: &mut Write, new: NewUser) -> Result<(User, Secret)> {
    let user = create(w, new).await?;
    let token = issue_link(w.conn(), &user.id, Purpose::Invite, w.now()).await?;
    Ok((user, token))
}
