//! Persistence: the only module with SQL and sea-orm types. Returns plain records with
//! domain enums. Every change is written with its event and audit record in one
//! transaction (see [`Write`]).

pub mod audit;
pub mod components;
pub mod entity;
pub mod events;
pub mod idempotency;
mod ids;
pub mod incidents;
pub mod pages;
pub mod seed;
pub mod tokens;

use std::time::Duration;

use chrono::{DateTime, Utc};
use migration::MigratorTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter, Set, SqlErr, Statement,
    TransactionTrait, sea_query::Expr,
};

pub use ids::new_id;

use crate::domain::{LifecycleError, Role, UnknownValue};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} '{id}' was not found")]
    NotFound { what: &'static str, id: String },
    /// The request is well formed but cannot be applied; `field` names what is wrong.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(m)) => StoreError::Conflict(m),
            Some(SqlErr::ForeignKeyConstraintViolation(m)) => StoreError::Invalid {
                field: None,
                message: format!("a referenced record does not exist: {m}"),
            },
            _ => StoreError::Db(e),
        }
    }
}

impl From<UnknownValue> for StoreError {
    fn from(e: UnknownValue) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

impl StoreError {
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            what,
            id: id.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who makes a change: recorded in the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub token_id: Option<String>,
    pub name: String,
    pub role: Role,
}

impl Actor {
    /// Changes made by the server itself (demo seed, CLI).
    pub fn system(name: &str) -> Actor {
        Actor {
            token_id: None,
            name: name.to_owned(),
            role: Role::Admin,
        }
    }
}

/// A cheap, cloneable handle on the database.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    page_id: String,
}

impl Store {
    /// Connects, applies pending migrations and makes sure the page row exists. A
    /// server passes its public URL so the page's links follow it; tools pass `None`.
    pub async fn open(url: &str, public_url: Option<&str>) -> Result<Store> {
        let db = connect(url).await?;
        migration::Migrator::up(&db, None).await?;
        let page_id = pages::ensure(&db, public_url).await?;
        Ok(Store { db, page_id })
    }

    pub fn page_id(&self) -> &str {
        &self.page_id
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Starts a write: a transaction that first touches the page row, so writers are
    /// serialised (on PostgreSQL the row lock, on SQLite the write lock taken at once)
    /// and event sequence numbers commit in order.
    pub async fn begin(&self, actor: &Actor, now: DateTime<Utc>) -> Result<Write> {
        let txn = self.db.begin().await?;
        entity::pages::Entity::update_many()
            .col_expr(entity::pages::Column::UpdatedAt, Expr::value(now))
            .filter(entity::pages::Column::Id.eq(self.page_id.clone()))
            .exec(&txn)
            .await?;
        Ok(Write {
            txn,
            actor: actor.clone(),
            now,
            page_id: self.page_id.clone(),
            last_seq: None,
        })
    }

    /// Health: one round trip to the database.
    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await.map_err(StoreError::from)
    }
}

/// Applies migrations only (for `herald migrate`).
pub async fn migrate(url: &str) -> Result<()> {
    let db = connect(url).await?;
    migration::Migrator::up(&db, None).await?;
    Ok(())
}

async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        opts.max_connections(8).min_connections(1);
    } else {
        opts.max_connections(16);
    }
    let db = Database::connect(opts).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA journal_mode=WAL",
        ))
        .await?;
    }
    Ok(db)
}

/// One write transaction with the actor and the time of the change. Events and audit
/// records go through it so that nothing is committed without them.
pub struct Write {
    txn: DatabaseTransaction,
    actor: Actor,
    now: DateTime<Utc>,
    page_id: String,
    /// The sequence number of the last event written, if any.
    last_seq: Option<i64>,
}

impl Write {
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn page_id(&self) -> &str {
        &self.page_id
    }

    /// Appends an event to the ordered log.
    pub async fn event(
        &mut self,
        kind: &str,
        subject_type: &str,
        subject_id: &str,
        payload: serde_json::Value,
    ) -> Result<()> {
        let event = entity::events::ActiveModel {
            kind: Set(kind.to_owned()),
            subject_type: Set(subject_type.to_owned()),
            subject_id: Set(subject_id.to_owned()),
            payload: Set(payload.to_string()),
            created_at: Set(self.now),
            ..Default::default()
        }
        .insert(&self.txn)
        .await?;
        self.last_seq = Some(event.seq);
        Ok(())
    }

    /// Records who did what.
    pub async fn audit(
        &self,
        action: &str,
        subject_type: &str,
        subject_id: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        entity::audit_log::ActiveModel {
            at: Set(self.now),
            token_id: Set(self.actor.token_id.clone()),
            actor: Set(self.actor.name.clone()),
            action: Set(action.to_owned()),
            subject_type: Set(subject_type.to_owned()),
            subject_id: Set(subject_id.to_owned()),
            detail: Set(detail.to_string()),
            ..Default::default()
        }
        .insert(&self.txn)
        .await?;
        Ok(())
    }

    /// Commits. Returns the sequence number of the last event written, so callers can
    /// wait for the public snapshot to reach it.
    pub async fn commit(self) -> Result<Option<i64>> {
        self.txn.commit().await?;
        Ok(self.last_seq)
    }
}
