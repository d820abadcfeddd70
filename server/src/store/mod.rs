//! Persistence: the only module with SQL and sea-orm types. It loads domain types,
//! lets the domain decide, and commits the outcome: every change is written with its
//! events and audit record in one transaction (see [`Write`]), and a commit announces
//! the event log's new head on one channel that the public snapshot (and every later
//! follower) watches.

pub mod audit;
pub mod components;
pub mod database;
pub mod deliveries;
pub mod endpoints;
pub mod entity;
pub mod events;
pub mod export;
pub mod idempotency;
mod ids;
pub mod impact;
pub mod incidents;
pub mod maintenance;
pub mod outbox;
pub mod pages;
pub mod reminders;
pub mod seed;
pub mod series;
pub mod sessions;
pub mod subscribers;
pub mod templates;
pub mod tenants;
pub mod tokens;
pub mod users;
mod values;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, Set, SqlErr, TransactionTrait, sea_query::Expr,
};
use tokio::sync::watch;

pub use ids::new_id;

use crate::domain::{DomainError, Event, PageId, Role, TokenId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} '{id}' was not found")]
    NotFound { what: &'static str, id: String },
    /// The domain refused the command.
    #[error(transparent)]
    Domain(DomainError),
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database could not be opened, or is not one Herald may use.
    #[error("{0}")]
    Open(String),
    #[error(transparent)]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(m)) => StoreError::Conflict(m),
            _ => StoreError::Db(e),
        }
    }
}

impl From<DomainError> for StoreError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound { what, id } => StoreError::NotFound { what, id },
            e => StoreError::Domain(e),
        }
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
        StoreError::Domain(DomainError::invalid(field, message))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who makes a change: recorded in the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub token_id: Option<TokenId>,
    pub name: String,
    pub role: Role,
    /// The client's address, for the audit log.
    pub client: Option<String>,
}

impl Actor {
    /// Changes made by the server itself (demo seed, CLI).
    pub fn system(name: &str) -> Actor {
        Actor {
            token_id: None,
            name: name.to_owned(),
            role: Role::Admin,
            client: None,
        }
    }
}

/// What a database holds, in a few words.
#[derive(Debug, Clone)]
pub struct Summary {
    pub page_name: String,
    pub url: String,
    pub components: u64,
    pub incidents: u64,
}

/// A cheap, cloneable handle on the database.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    page_id: PageId,
    /// The event log's head as this process knows it: moved by every commit here and
    /// by the poll that notices other instances' commits.
    head: Arc<watch::Sender<i64>>,
    /// Woken when a commit here writes to the outbox (other instances' writes are found
    /// by the delivery workers' own polling).
    outbox: Arc<tokio::sync::Notify>,
}

impl Store {
    /// Takes an opened, migrated database (see [`database::connect`]) and the page in
    /// it, creating the page on first start. A server passes its public URL so the
    /// page's links follow it; without one the stored address is kept, and a new page
    /// gets `default_url`.
    pub async fn open(
        db: DatabaseConnection,
        public_url: Option<&str>,
        default_url: &str,
        now: DateTime<Utc>,
    ) -> Result<(Store, pages::UrlAtStart)> {
        // Instances starting together on an empty database create one page.
        let txn = db.begin().await?;
        database::lock(&txn).await?;
        let (page_id, url) = pages::ensure(&txn, public_url, default_url, now).await?;
        if impact::derive_if_stale(&txn, &page_id).await? {
            tracing::info!("impact periods derived from every incident's record");
        }
        if templates::seed_once(&txn, &page_id, now).await? {
            tracing::info!("added the shipped incident templates");
        }
        txn.commit().await?;
        let head = events::latest_seq(&db).await?;
        let store = Store {
            db,
            page_id,
            head: Arc::new(watch::channel(head).0),
            outbox: Arc::new(tokio::sync::Notify::new()),
        };
        Ok((store, url))
    }

    /// What the database holds, for the start-up line.
    pub async fn summary(&self) -> Result<Summary> {
        use sea_orm::PaginatorTrait;
        let page = pages::get(&self.db, &self.page_id).await?;
        Ok(Summary {
            page_name: page.name,
            url: page.url,
            components: entity::components::Entity::find()
                .filter(entity::components::Column::IsGroup.eq(false))
                .filter(entity::components::Column::DeletedAt.is_null())
                .count(&self.db)
                .await?,
            incidents: entity::incidents::Entity::find().count(&self.db).await?,
        })
    }

    /// Closes the database (see [`database::close`]).
    pub async fn close(&self) {
        database::close(&self.db).await;
    }

    pub fn page_id(&self) -> &PageId {
        &self.page_id
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Follows the event log's head.
    pub fn head(&self) -> watch::Receiver<i64> {
        self.head.subscribe()
    }

    /// Woken when this process writes to the outbox.
    pub fn outbox_written(&self) -> Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    /// Records that the log reached `seq` (seen by a poll of the shared database).
    pub fn announce(&self, seq: i64) {
        advance(&self.head, seq);
    }

    /// Starts a write: a transaction whose first statement takes the page row's lock,
    /// so writers are serialised (on PostgreSQL the row lock, on SQLite the write lock
    /// taken at once) and event sequence numbers commit in order.
    pub async fn begin(&self, actor: &Actor, now: DateTime<Utc>) -> Result<Write> {
        let txn = self.db.begin().await?;
        // A no-op write of a column no key depends on (writing the id would make
        // SQLite check every row that refers to the page).
        entity::pages::Entity::update_many()
            .col_expr(
                entity::pages::Column::UpdatedAt,
                Expr::col(entity::pages::Column::UpdatedAt),
            )
            .filter(entity::pages::Column::Id.eq(self.page_id.clone()))
            .exec(&txn)
            .await?;
        Ok(Write {
            txn,
            actor: actor.clone(),
            now,
            page_id: self.page_id.clone(),
            last_seq: None,
            public: false,
            notified: false,
            head: self.head.clone(),
            outbox: self.outbox.clone(),
        })
    }

    /// Health: one round trip to the database.
    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await.map_err(StoreError::from)
    }
}

/// Moves the head forward (never back: commits and polls may arrive out of order).
fn advance(head: &watch::Sender<i64>, seq: i64) {
    head.send_if_modified(|h| {
        let moved = seq > *h;
        *h = (*h).max(seq);
        moved
    });
}

/// One write transaction with the actor and the time of the change. Events and audit
/// records go through it so that nothing is committed without them, and its commit is
/// the one place that announces the log's new head.
pub struct Write {
    txn: DatabaseTransaction,
    actor: Actor,
    now: DateTime<Utc>,
    page_id: PageId,
    /// The sequence number of the last event written, if any.
    last_seq: Option<i64>,
    /// Whether an event readers of the public page can see was written.
    public: bool,
    /// Whether anything went to the outbox.
    notified: bool,
    head: Arc<watch::Sender<i64>>,
    outbox: Arc<tokio::sync::Notify>,
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

    pub fn page_id(&self) -> &PageId {
        &self.page_id
    }

    /// Appends events to the ordered log.
    pub async fn record(&mut self, events: &[Event]) -> Result<()> {
        for e in events {
            let (kind, payload) = e.to_parts();
            let subject = e.subject();
            let row = entity::events::ActiveModel {
                kind: Set(kind),
                subject_type: Set(subject.kind.to_owned()),
                subject_id: Set(subject.id.to_owned()),
                payload: Set(payload.to_string()),
                created_at: Set(self.now),
                ..Default::default()
            }
            .insert(&self.txn)
            .await?;
            // Whoever is to be told is told from the outbox, written with the change:
            // if this commits, the notification will go out; if not, neither will.
            if e.notifies() {
                entity::outbox::ActiveModel {
                    event_seq: Set(row.seq),
                    state: Set(outbox::PENDING.to_owned()),
                    cursor: Set(None),
                    lease_until: Set(None),
                    created_at: Set(self.now),
                    done_at: Set(None),
                    ..Default::default()
                }
                .insert(&self.txn)
                .await?;
                self.notified = true;
            }
            self.last_seq = Some(row.seq);
            self.public |= e.is_public();
        }
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
            client_addr: Set(self.actor.client.clone()),
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

    /// Commits and announces the log's new head. Returns the sequence number of the
    /// last event written, so callers can wait for followers to reach it.
    pub async fn commit(self) -> Result<Option<i64>> {
        if self.public {
            // The page's `updated_at` says when something readers see last changed.
            entity::pages::Entity::update_many()
                .col_expr(entity::pages::Column::UpdatedAt, Expr::value(self.now))
                .filter(entity::pages::Column::Id.eq(self.page_id.clone()))
                .exec(&self.txn)
                .await?;
        }
        self.txn.commit().await?;
        if let Some(seq) = self.last_seq {
            advance(&self.head, seq);
        }
        if self.notified {
            self.outbox.notify_one();
        }
        Ok(self.last_seq)
    }
}
