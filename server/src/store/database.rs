//! Opening the database the way an operator can trust: it says what it opened (never
//! the password), it fails within seconds naming the host and port, it refuses a file
//! that is not a Herald database instead of starting an empty page on it, only `serve`,
//! `migrate` and `import` create or migrate, migrations hold a lock so any number of
//! instances can start at once, and SQLite is closed on shutdown so the file alone
//! holds everything.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use migration::MigratorTrait;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    Statement, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use super::{Result, StoreError};

/// How long connecting may take before it fails with the host and port.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a command may create the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `serve`, `migrate`, `import`: a missing SQLite file is created.
    Create,
    /// Every other command: the database must exist and be migrated.
    Existing,
    /// `migrate --status`: the database must exist; it may be behind.
    Inspect,
}

/// What was opened, said without secrets.
#[derive(Debug, Clone)]
pub struct Target {
    pub backend: DbBackend,
    /// "SQLite file /srv/herald/herald.db" or "PostgreSQL database herald at db:5432".
    pub description: String,
    /// The SQLite file, if any.
    pub file: Option<PathBuf>,
}

impl Target {
    pub fn of(url: &str) -> Target {
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = rest.split('?').next().unwrap_or("");
            let file = (!path.is_empty() && path != ":memory:").then(|| {
                let p = PathBuf::from(path);
                std::path::absolute(&p).unwrap_or(p)
            });
            let description = match &file {
                Some(f) => format!("SQLite file {}", f.display()),
                None => "an in-memory SQLite database".to_owned(),
            };
            return Target {
                backend: DbBackend::Sqlite,
                description,
                file,
            };
        }
        let description = match url::Url::parse(url) {
            Ok(u) => format!(
                "PostgreSQL database '{}' at {}:{} as '{}'",
                u.path().trim_start_matches('/'),
                u.host_str().unwrap_or("localhost"),
                u.port().unwrap_or(5432),
                u.username()
            ),
            Err(_) => "a PostgreSQL database (its URL does not parse)".to_owned(),
        };
        Target {
            backend: DbBackend::Postgres,
            description,
            file: None,
        }
    }
}

fn open_error(message: impl Into<String>) -> StoreError {
    StoreError::Open(message.into())
}

/// How hard SQLite makes each commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: an acknowledged write survives a power loss.
    #[default]
    PowerLoss,
    /// `synchronous=NORMAL`: it survives a crash, not a power loss.
    Crash,
}

impl Durability {
    pub fn from_setting(s: &str) -> Durability {
        if s == "normal" {
            Durability::Crash
        } else {
            Durability::PowerLoss
        }
    }
}

/// Connects to `url`: checks what is there first, so that nothing is created by
/// accident and nothing that is not a Herald database is used.
pub async fn connect(url: &str, mode: Mode) -> Result<(DatabaseConnection, Target)> {
    connect_with(url, mode, Durability::default()).await
}

/// [`connect`], with SQLite's durability chosen.
pub async fn connect_with(
    url: &str,
    mode: Mode,
    durability: Durability,
) -> Result<(DatabaseConnection, Target)> {
    crate::telemetry::crypto();
    let target = Target::of(url);
    let had_content = match &target.file {
        Some(file) => prepare_sqlite_file(file, mode)?,
        None => false,
    };
    let mut opts = ConnectOptions::new(url.to_owned());
    // Every statement at debug (`RUST_LOG=sqlx::query=debug`), slow ones as warnings.
    opts.sqlx_logging(true)
        .sqlx_logging_level(tracing::log::LevelFilter::Debug)
        .sqlx_slow_statements_logging_settings(
            tracing::log::LevelFilter::Warn,
            Duration::from_secs(1),
        )
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(CONNECT_TIMEOUT);
    if target.backend == DbBackend::Sqlite {
        // A local file does not drop connections: no ping before each use.
        opts.max_connections(8)
            .min_connections(1)
            .test_before_acquire(false);
        // WAL with synchronous=FULL by default: an acknowledged write survives power
        // loss, not only a crash of the process (the cost is one fsync per commit; see
        // the write benchmark).
        let create = mode == Mode::Create;
        let sync = match durability {
            Durability::PowerLoss => SqliteSynchronous::Full,
            Durability::Crash => SqliteSynchronous::Normal,
        };
        opts.map_sqlx_sqlite_opts(move |o| {
            o.create_if_missing(create)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sync)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("cache_size", "-1024")
                .statement_cache_capacity(32)
        });
    } else {
        opts.max_connections(16);
    }
    let db = Database::connect(opts).await.map_err(|e| {
        open_error(format!(
            "could not open the {} within {} s: {e}",
            target.description,
            CONNECT_TIMEOUT.as_secs()
        ))
    })?;
    check_contents(&db, &target, mode, had_content).await?;
    Ok((db, target))
}

/// A missing file is created (0600) only in `Create` mode. Returns whether the file
/// already held anything.
fn prepare_sqlite_file(file: &Path, mode: Mode) -> Result<bool> {
    match std::fs::metadata(file) {
        Err(_) if mode != Mode::Create => Err(open_error(format!(
            "there is no Herald database at {}. Run this command where the server's \
             database is, or point HERALD_DATABASE_URL (or --database-url) at it; \
             `herald serve` creates a new one.",
            file.display()
        ))),
        Err(_) => {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                create_private_dir(dir)?;
            }
            create_private_file(file).map(|()| false)
        }
        Ok(m) => Ok(m.len() > 0),
    }
}

/// Creates a directory (and its parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(|e| open_error(format!("could not create {}: {e}", dir.display())))
}

/// Creates an empty file readable by the owner only (fails if it exists).
pub fn create_private_file(file: &Path) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(file)
        .map(|_| ())
        .map_err(|e| open_error(format!("could not create {}: {e}", file.display())))
}

async fn table_names(db: &DatabaseConnection) -> Result<Vec<String>> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        _ => "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()",
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String>("", "name").ok())
        .collect())
}

/// An existing file (`had_content`) or database must hold Herald's tables or nothing.
async fn check_contents(
    db: &DatabaseConnection,
    target: &Target,
    mode: Mode,
    had_content: bool,
) -> Result<()> {
    let tables = table_names(db).await?;
    let herald = tables.iter().any(|t| t == "seaql_migrations");
    if !herald && !tables.is_empty() {
        return Err(open_error(format!(
            "the {} holds tables but is not a Herald database ({}). Point \
             HERALD_DATABASE_URL at Herald's own database.",
            target.description,
            tables.join(", ")
        )));
    }
    if !herald && had_content && mode != Mode::Inspect {
        return Err(open_error(format!(
            "the {} exists but holds no Herald tables: it may be a copy taken while \
             Herald was running, whose data was still in the -wal file beside the \
             original. Take copies with `herald backup FILE`. To start a new, empty \
             page on purpose, move this file away and start again.",
            target.description
        )));
    }
    if mode == Mode::Existing {
        let pending = pending(db).await?;
        if !herald || !pending.is_empty() {
            return Err(open_error(format!(
                "the {} is not ready for this version of Herald ({} migration(s) pending). \
                 Run `herald migrate` (or start `herald serve`) first.",
                target.description,
                if herald {
                    pending.len()
                } else {
                    migration::Migrator::migrations().len()
                }
            )));
        }
    }
    Ok(())
}

/// Names of migrations not yet applied (reads only; creates nothing).
pub async fn pending(db: &DatabaseConnection) -> Result<Vec<String>> {
    Ok(migration::Migrator::get_pending_migrations_read_only(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// Every migration and whether it is applied (reads only).
pub async fn status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>> {
    Ok(migration::Migrator::get_migration_with_status_read_only(db)
        .await?
        .iter()
        .map(|m| {
            (
                m.name().to_owned(),
                m.status() == migration::MigrationStatus::Applied,
            )
        })
        .collect())
}

/// The key of PostgreSQL's advisory lock: "herald" in ASCII.
const LOCK_KEY: i64 = 0x6865_7261_6c64;

/// Takes the lock that start-up work holds, for the rest of `txn`: PostgreSQL's
/// advisory lock, SQLite's write lock (taken by the transaction's first write).
pub async fn lock(txn: &DatabaseTransaction) -> Result<()> {
    let backend = txn.get_database_backend();
    let statements: &[&str] = match backend {
        DbBackend::Postgres => {
            let sql = format!("SELECT pg_advisory_xact_lock({LOCK_KEY})");
            txn.execute_raw(Statement::from_string(backend, sql))
                .await?;
            return Ok(());
        }
        // The first statement writes, so the transaction takes SQLite's write lock at
        // once (waiting for it) rather than reading first and failing to upgrade when
        // another connection wrote meanwhile.
        _ => &[
            "CREATE TABLE IF NOT EXISTS herald_lock (id INTEGER PRIMARY KEY)",
            "INSERT OR REPLACE INTO herald_lock (id) VALUES (1)",
        ],
    };
    let insert = Statement::from_string(backend, statements[1]);
    if txn.execute_raw(insert.clone()).await.is_ok() {
        return Ok(());
    }
    for sql in statements {
        txn.execute_raw(Statement::from_string(backend, *sql))
            .await?;
    }
    Ok(())
}

/// Applies pending migrations under [`lock`], so instances starting together apply
/// them once. Returns what it applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<Vec<String>> {
    let txn = db.begin().await?;
    lock(&txn).await?;
    let todo: Vec<String> = migration::Migrator::get_pending_migrations(&txn)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    migration::Migrator::up(&txn, None).await?;
    txn.commit().await?;
    Ok(todo)
}

/// Lets SQLite refresh the statistics its query planner uses (with STAT4 it learns that
/// open incidents are few among thousands), as its documentation recommends at start
/// and every few hours. PostgreSQL's autovacuum does this by itself.
pub async fn optimize(db: &DatabaseConnection) {
    if db.get_database_backend() == DbBackend::Sqlite
        && let Err(e) = db
            .execute_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA optimize=0x10002",
            ))
            .await
    {
        tracing::warn!(error = %e, "PRAGMA optimize failed");
    }
}

/// Closes the pool. On SQLite the write-ahead log is folded into the database first,
/// so after a clean stop the file alone holds everything.
pub async fn close(db: &DatabaseConnection) {
    optimize(db).await;
    if db.get_database_backend() == DbBackend::Sqlite
        && let Err(e) = db
            .execute_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ))
            .await
    {
        tracing::warn!(error = %e, "checkpointing the SQLite log failed");
    }
    if let Err(e) = db.close_by_ref().await {
        tracing::warn!(error = %e, "closing the database failed");
    }
}

/// A consistent online copy: SQLite's `VACUUM INTO` a new file (0600). PostgreSQL has
/// its own tools.
pub async fn backup(db: &DatabaseConnection, target: &Target, to: &Path) -> Result<()> {
    if target.backend != DbBackend::Sqlite {
        return Err(open_error(format!(
            "`herald backup` copies SQLite files; for the {} use pg_dump \
             (pg_dump --format=custom), or `herald export` for a portable copy.",
            target.description
        )));
    }
    if to.exists() {
        return Err(open_error(format!(
            "{} already exists; a backup is written to a new file",
            to.display()
        )));
    }
    create_private_file(to)?;
    let path = to.to_string_lossy().replace('\'', "''");
    let done = db
        .execute_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("VACUUM INTO '{path}'"),
        ))
        .await;
    if let Err(e) = done {
        let _ = std::fs::remove_file(to);
        return Err(e.into());
    }
    Ok(())
}
