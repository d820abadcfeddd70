//! The outbox: one row per notifying event, written in the transaction of the change.
//! A worker claims a row with a lease, expands it into deliveries batch by batch (the
//! cursor says how far it got, so a restart goes on), then marks it done.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, sea_query::Expr,
};

use super::{Result, entity::outbox};

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";

/// `sql` written with `$1, $2, ...`, for the connection's database (`?1, ?2, ...` on
/// SQLite).
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// `FOR UPDATE SKIP LOCKED` where the database has it: instances sharing a PostgreSQL
/// database each take other rows. (SQLite has one writer at a time.)
pub(crate) fn skip_locked(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => " FOR UPDATE SKIP LOCKED",
        _ => "",
    }
}

/// Claims the oldest pending row nobody holds, for `lease`.
pub async fn claim(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<outbox::Model>> {
    let backend = db.get_database_backend();
    let sql = format!(
        "UPDATE outbox SET lease_until = $1 WHERE id = (SELECT id FROM outbox \
         WHERE state = $2 AND (lease_until IS NULL OR lease_until < $3) \
         ORDER BY id LIMIT 1{}) RETURNING *",
        skip_locked(backend)
    );
    let row = db
        .query_one_raw(statement(
            backend,
            &sql,
            vec![(now + lease).into(), PENDING.into(), now.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => Some(outbox::Model::from_query_result(&r, "")?),
        None => None,
    })
}

/// Records progress and renews the lease.
pub async fn advance(
    db: &impl ConnectionTrait,
    id: i64,
    cursor: &str,
    lease_until: DateTime<Utc>,
) -> Result<()> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::Cursor, Expr::value(cursor))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Some(lease_until)))
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn done(db: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<()> {
    outbox::Entity::update_many()
        .col_expr(outbox::Column::State, Expr::value(DONE))
        .col_expr(outbox::Column::DoneAt, Expr::value(Some(now)))
        .col_expr(
            outbox::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .filter(outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Rows not yet expanded, and when the oldest was written.
pub async fn pending(db: &impl ConnectionTrait) -> Result<(u64, Option<DateTime<Utc>>)> {
    let n = outbox::Entity::find()
        .filter(outbox::Column::State.eq(PENDING))
        .count(db)
        .await?;
    let oldest = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::CreatedAt)
        .filter(outbox::Column::State.eq(PENDING))
        .order_by_asc(outbox::Column::Id)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await?;
    Ok((n, oldest))
}
