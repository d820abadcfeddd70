//! PostgreSQL over TLS (rustls), against the local server's own certificate: Debian's
//! PostgreSQL ships with `ssl = on` and a self-signed certificate for `localhost`.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{Server, skip_without_postgres};
use herald::store::database::{self, Mode};

/// The server's certificate file, as PostgreSQL reports it.
async fn server_certificate(base: &str) -> Option<String> {
    let db = sea_orm::Database::connect(base).await.ok()?;
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('ssl') AS ssl, current_setting('ssl_cert_file') AS cert",
        ))
        .await
        .ok()??;
    let ssl: String = row.try_get("", "ssl").ok()?;
    let cert: String = row.try_get("", "cert").ok()?;
    let _ = db.close().await;
    (ssl == "on" && std::fs::metadata(&cert).is_ok()).then_some(cert)
}

async fn uses_tls(db: &sea_orm::DatabaseConnection) -> bool {
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    ))
    .await
    .ok()
    .flatten()
    .and_then(|r| r.try_get::<bool>("", "ssl").ok())
    .unwrap_or(false)
}

fn with(url: &str, host: &str, query: &str) -> String {
    let mut u = url::Url::parse(url).unwrap_or_else(|e| panic!("{e}"));
    let _ = u.set_host(Some(host));
    u.set_query(Some(query));
    u.to_string()
}

#[tokio::test]
async fn postgres_over_tls_in_every_mode() {
    let Some(base) = skip_without_postgres("postgres_over_tls_in_every_mode") else {
        return;
    };
    let cert = server_certificate(&base).await;
    let Some(cert) = cert else {
        assert!(
            std::env::var("CI").is_err(),
            "CI's PostgreSQL must have ssl = on with a readable certificate"
        );
        eprintln!("postgres_over_tls_in_every_mode: skipped, the server has no TLS");
        return;
    };
    let url = herald_tests::fresh_postgres().await;
    for (host, query) in [
        ("127.0.0.1", "sslmode=require".to_owned()),
        ("127.0.0.1", format!("sslmode=verify-ca&sslrootcert={cert}")),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={cert}"),
        ),
    ] {
        let u = with(&url, host, &query);
        let (db, _) = database::connect(&u, Mode::Create)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        assert!(uses_tls(&db).await, "{query} is encrypted");
        database::close(&db).await;
    }
    // The certificate names localhost, not 127.0.0.1: verify-full refuses, and says
    // where it was connecting.
    let u = with(
        &url,
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={cert}"),
    );
    let err = database::connect(&u, Mode::Create)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("127.0.0.1:5432"), "{err}");

    // The real binary on `require`.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let u = with(&url, "127.0.0.1", "sslmode=require");
    let s = Server::start(dir.path(), &[("HERALD_DATABASE_URL", u.as_str())]).await;
    s.stop().await;
}
