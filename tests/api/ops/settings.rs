//! Settings an operator gets wrong are refused by name, before anything is opened.

use super::{herald, run};

#[tokio::test]
async fn unknown_settings_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = herald(dir.path());
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("HERALD_DATABSE_URL", "postgres://herald@db/herald");
    let (status, _, err) = run(cmd);
    assert!(!status.success());
    assert!(err.contains("HERALD_DATABSE_URL"), "{err}");

    std::fs::write(
        dir.path().join("herald.toml"),
        "databse_url = \"postgres://herald@db/herald\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = herald(dir.path());
    cmd.args(["--config", "herald.toml", "serve", "--bind", "127.0.0.1:0"]);
    let (status, _, err) = run(cmd);
    assert!(!status.success());
    assert!(err.contains("databse_url"), "{err}");
    assert!(
        !dir.path().join("herald.db").exists(),
        "no database was created on a typo"
    );
}

/// A URL that does not parse is not echoed with its password; an unreachable server
/// fails within seconds, naming the host and port; secrets come from files.
#[tokio::test]
async fn database_errors_are_quick_and_keep_the_password() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = herald(dir.path());
    cmd.args(["page", "show"])
        .env("HERALD_DATABASE_URL", "postgres://herald:s3cret@[db/herald");
    let (status, _, err) = run(cmd);
    assert!(!status.success());
    assert!(!err.contains("s3cret"), "{err}");

    // A port nothing listens on: refused at once, and the error says where.
    let port = super::free_port();
    let secret = dir.path().join("db-url");
    std::fs::write(
        &secret,
        format!("postgres://herald:s3cret@127.0.0.1:{port}/herald\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let mut cmd = herald(dir.path());
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("HERALD_DATABASE_URL_FILE", &secret);
    let (status, _, err) = run(cmd);
    assert!(!status.success());
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}
