//! The database as an operator handles it: copies, backups, moves between backends,
//! commands run in the wrong place, and many instances starting at once.

use serde_json::{Value, json};

use super::{Server, herald, postgres, run, skip_without_postgres};
use herald_tests::TestApp;

const SQLITE: &str = "sqlite://herald.db?mode=rwc";

async fn create_incident(s: &Server, token: &str, name: &str) -> Value {
    let client = reqwest::Client::new();
    let page: Value = client
        .get(format!("{}/api/v2/status.json", s.url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let page_id = page["page"]["id"].as_str().unwrap_or("").to_owned();
    let r = client
        .post(format!("{}/v1/pages/{page_id}/incidents", s.url))
        .header("Authorization", format!("OAuth {token}"))
        .json(&json!({"incident": {"name": name, "status": "identified"}}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 201);
    r.json().await.unwrap_or_default()
}

async fn unresolved(url: &str) -> Vec<String> {
    let doc: Value = reqwest::get(format!("{url}/api/v2/incidents/unresolved.json"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    doc["incidents"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

/// After a clean stop the database file alone holds everything: a copy of it starts
/// with every incident. A file that holds no Herald tables is refused, not seeded.
#[tokio::test]
async fn a_copied_sqlite_file_is_the_whole_page() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = Server::start(dir.path(), &[("HERALD_DATABASE_URL", SQLITE)]).await;
    let token = s.admin_token();
    #[cfg(unix)]
    {
        assert_eq!(
            mode(&dir.path().join("herald.db")),
            0o600,
            "the database is private"
        );
        assert_eq!(mode(&dir.path().join("herald-admin-token")), 0o600);
    }
    create_incident(&s, &token, "Calls dropping in Prod2 (EU)").await;
    let log = s.stop().await;
    assert!(
        log.contains("SQLite file"),
        "start-up names the database:\n{log}"
    );
    let wal = dir.path().join("herald.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the log was folded into the file at stop"
    );

    let copy = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(dir.path().join("herald.db"), copy.path().join("herald.db"))
        .unwrap_or_else(|e| panic!("{e}"));
    let again = Server::start(copy.path(), &[("HERALD_DATABASE_URL", SQLITE)]).await;
    assert_eq!(
        unresolved(&again.url).await,
        ["Calls dropping in Prod2 (EU)"]
    );
    assert!(
        !copy.path().join("herald-admin-token").exists(),
        "the copy has its admin token: no new one is minted"
    );
    again.stop().await;

    // A half-copied file: SQLite's header, no tables.
    let half = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "sqlite://{}?mode=rwc",
        half.path().join("herald.db").display()
    );
    {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        db.execute_unprepared("PRAGMA user_version = 7")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = db.close().await;
    }
    let mut cmd = herald(half.path());
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env("HERALD_DATABASE_URL", SQLITE);
    let (status, _, err) = run(cmd);
    assert!(!status.success());
    assert!(err.contains("holds no Herald tables"), "{err}");
    assert!(
        err.contains("herald backup"),
        "it says how to take copies: {err}"
    );
}

/// Only `serve`, `migrate` and `import` create a database; other commands name the
/// path they looked at and fail.
#[tokio::test]
async fn commands_refuse_a_missing_database() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for args in [
        vec!["token", "create", "--name", "ci"],
        vec!["token", "list"],
        vec!["page", "show"],
        vec!["export"],
        vec!["backup", "copy.db"],
        vec!["migrate", "--status"],
    ] {
        let mut cmd = herald(dir.path());
        cmd.args(&args).env("HERALD_DATABASE_URL", SQLITE);
        let (status, out, err) = run(cmd);
        assert!(!status.success(), "{args:?}: {out}");
        assert!(
            err.contains("no Herald database at") && err.contains("herald.db"),
            "{args:?}: {err}"
        );
        assert!(out.is_empty(), "{args:?} printed {out}");
    }
    assert!(
        !dir.path().join("herald.db").exists(),
        "nothing was created by accident"
    );
    // `migrate` creates; then the tools work, and `migrate --status` lists the schema.
    let mut cmd = herald(dir.path());
    cmd.arg("migrate").env("HERALD_DATABASE_URL", SQLITE);
    let (status, _, err) = run(cmd);
    assert!(status.success(), "{err}");
    let mut cmd = herald(dir.path());
    cmd.args(["migrate", "--status"])
        .env("HERALD_DATABASE_URL", SQLITE);
    let (status, out, _) = run(cmd);
    assert!(status.success());
    assert!(
        out.contains("applied\tm20261123_000001_create_core"),
        "{out}"
    );
    assert!(!out.contains("pending"), "{out}");
    let mut cmd = herald(dir.path());
    cmd.args(["token", "create", "--name", "ci"])
        .env("HERALD_DATABASE_URL", SQLITE);
    let (status, out, err) = run(cmd);
    assert!(status.success(), "{err}");
    assert!(out.trim().starts_with("hrld_"));
    let mut cmd = herald(dir.path());
    cmd.args(["token", "list"])
        .env("HERALD_DATABASE_URL", SQLITE);
    let (_, out, _) = run(cmd);
    assert!(
        out.contains("viewer"),
        "without --role a token is a viewer: {out}"
    );
}

/// `herald backup` takes a consistent copy while Herald runs; the copy starts.
#[tokio::test]
async fn an_online_backup_restores() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let s = Server::start(dir.path(), &[("HERALD_DATABASE_URL", SQLITE)]).await;
    let token = s.admin_token();
    create_incident(&s, &token, "Search is slow").await;
    let mut cmd = herald(dir.path());
    cmd.args(["backup", "backup.db"])
        .env("HERALD_DATABASE_URL", SQLITE);
    let (status, _, err) = run(cmd);
    assert!(status.success(), "{err}");
    #[cfg(unix)]
    assert_eq!(mode(&dir.path().join("backup.db")), 0o600);
    let mut cmd = herald(dir.path());
    cmd.args(["backup", "backup.db"])
        .env("HERALD_DATABASE_URL", SQLITE);
    let (status, _, err) = run(cmd);
    assert!(!status.success() && err.contains("already exists"), "{err}");
    s.stop().await;
    let restored = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        dir.path().join("backup.db"),
        restored.path().join("herald.db"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = Server::start(restored.path(), &[("HERALD_DATABASE_URL", SQLITE)]).await;
    assert_eq!(unresolved(&r.url).await, ["Search is slow"]);
    r.stop().await;
}

/// An export imported into the other backend answers exactly as the original: the
/// public documents and the admin API, ids included.
async fn round_trip(app: TestApp, target: String) {
    app.seed_demo().await;
    let c = app.create_component("Billing", None).await;
    let inc = app
        .create_incident(json!({"name": "Invoices late", "components": {c["id"].as_str().unwrap_or(""): "partial_outage"}}))
        .await;
    let id = inc["id"].as_str().unwrap_or("").to_owned();
    let cid = c["id"].as_str().unwrap_or("").to_owned();
    app.subscribe("ada@example.com", &[&cid]).await;
    app.post(
        &app.page_path("/tenants"),
        json!({"tenant": {"name": "Acme", "emails": ["ops@acme.test"], "component_ids": [cid]}}),
    )
    .await
    .expect(201);
    app.update_incident(&id, json!({"status": "monitoring", "body": "Catching up."}))
        .await;
    app.post(
        &app.page_path("/users"),
        json!({"user": {"email": "grace@example.com", "role": "responder"}}),
    )
    .await
    .expect(201);
    app.settle().await;
    app.deliveries_settled().await;
    // Every delivery recorded as sent (the invitation's too) before the export: one
    // still on its way would be sent again by the copy.
    for _ in 0..200 {
        if app
            .deliveries("")
            .await
            .iter()
            .all(|d| d["state"] == "delivered")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cmd = herald(work.path());
    cmd.args(["export", "-o", "page.json"])
        .env("HERALD_DATABASE_URL", &app.database_url);
    let (status, _, err) = run(cmd);
    assert!(status.success(), "{err}");
    let mut cmd = herald(work.path());
    cmd.args(["import", "page.json"])
        .env("HERALD_DATABASE_URL", &target);
    let (status, _, err) = run(cmd);
    assert!(status.success(), "{err}");
    // A second import into the same database is refused.
    let mut cmd = herald(work.path());
    cmd.args(["import", "page.json"])
        .env("HERALD_DATABASE_URL", &target);
    let (status, _, err) = run(cmd);
    assert!(!status.success() && err.contains("empty database"), "{err}");

    let copy = TestApp::spawn_on(&target, &app.admin).await;
    copy.settle().await;
    let token = app.admin.clone();
    for path in [
        "/api/v2/summary.json",
        "/api/v2/incidents.json",
        "/api/v2/components.json",
        "/api/v2/scheduled-maintenances.json",
        "/history.atom",
        "/maintenance.ics",
        "/live.json",
    ] {
        let (a, b) = (app.public(path).await.text, copy.public(path).await.text);
        assert_eq!(a, b, "{path} differs after the round trip");
    }
    for rest in [
        String::new(),
        "/components".into(),
        "/component-groups".into(),
        "/incidents".into(),
        "/events?limit=1000".into(),
        "/audit-log?limit=1000".into(),
        "/api-tokens".into(),
        "/users".into(),
        "/subscribers".into(),
        "/tenants".into(),
        "/deliveries?limit=500".into(),
        format!("/incidents/{id}"),
    ] {
        let path = app.page_path(&rest);
        let a = app.get(&path).await.expect(200).text;
        let b = copy
            .send(reqwest::Method::GET, &path, Some(&token), None)
            .await
            .expect(200)
            .text;
        assert_eq!(a, b, "{path} differs after the round trip");
    }
    // Uptime agrees (its seconds keep counting while the incident is open, so the
    // moments of the two requests are left out): the same range and incidents.
    let path = app.page_path(&format!("/components/{cid}/uptime"));
    let a = app.get(&path).await.expect(200).json();
    let b = copy
        .send(reqwest::Method::GET, &path, Some(&token), None)
        .await
        .expect(200)
        .json();
    for key in ["id", "range_start", "range_end", "related_events"] {
        assert_eq!(a[key], b[key], "uptime {key} differs after the round trip");
    }
    assert_eq!(a["related_events"].as_array().map(Vec::len), Some(1), "{a}");
    // The imported page goes on: new events continue the sequence.
    let before = copy.events().await.len();
    copy.send(
        reqwest::Method::PATCH,
        &copy.page_path(&format!("/incidents/{id}")),
        Some(&token),
        Some(json!({"incident": {"status": "resolved"}})),
    )
    .await
    .expect(200);
    let events = copy.events().await;
    assert!(events.len() > before);
    let seqs: Vec<i64> = events.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

/// SQLite to PostgreSQL (or to another SQLite file when there is no PostgreSQL).
#[tokio::test]
async fn export_from_sqlite_imports_elsewhere() {
    let app = TestApp::spawn_sqlite().await;
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let target = match postgres() {
        Some(_) => herald_tests::fresh_postgres().await,
        None => herald_tests::sqlite_in(work.path()),
    };
    round_trip(app, target).await;
}

/// PostgreSQL to SQLite.
#[tokio::test]
async fn export_from_postgres_imports_into_sqlite() {
    let Some(_) = skip_without_postgres("export_from_postgres_imports_into_sqlite") else {
        return;
    };
    let app = TestApp::spawn_postgres().await;
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    round_trip(app, herald_tests::sqlite_in(work.path())).await;
}

/// Five instances started at once on one empty PostgreSQL database all come up, with
/// one schema, one page and one first admin token.
#[tokio::test]
async fn five_instances_start_at_once_on_an_empty_postgres() {
    let Some(_) = skip_without_postgres("five_instances_start_at_once_on_an_empty_postgres") else {
        return;
    };
    let url = herald_tests::fresh_postgres().await;
    let dirs: Vec<tempfile::TempDir> = (0..5)
        .map(|_| tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut servers: Vec<Server> = dirs
        .iter()
        .map(|d| Server::spawn(d.path(), &[("HERALD_DATABASE_URL", url.as_str())]))
        .collect();
    for s in &mut servers {
        s.ready().await;
    }
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for s in &servers {
            let doc: Value = reqwest::get(format!("{}/api/v2/status.json", s.url))
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .json()
                .await
                .unwrap_or_default();
            ids.push(doc["page"]["id"].as_str().unwrap_or("").to_owned());
        }
        ids
    };
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one page: {ids:?}");
    let tokens = dirs
        .iter()
        .filter(|d| d.path().join("herald-admin-token").exists())
        .count();
    assert_eq!(tokens, 1, "one first admin token");
    for s in servers {
        s.stop().await;
    }
}
