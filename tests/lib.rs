//! The black-box test harness: each test starts the real server on a random port with a
//! fresh database (a SQLite file, or a new PostgreSQL database when
//! `HERALD_TEST_DATABASE_URL` is set) and talks HTTP to it.

use std::net::TcpListener;

use chrono::Utc;
use herald::{app::AppState, clock::Clock, config::Settings, domain::Role, server, store};
use reqwest::{Method, StatusCode, header::HeaderMap};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

#[path = "smtp.rs"]
pub mod smtp;

#[path = "hooks.rs"]
pub mod hooks;

pub struct TestApp {
    pub base: String,
    pub page_id: String,
    /// An admin token.
    pub admin: String,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    /// The server's clock: the system clock unless the test asked for a manual one.
    pub clock: Clock,
    pub database_url: String,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(self, status: u16) -> Resp {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self
    }
}

/// A fresh database URL: a SQLite file in `dir`, or a new PostgreSQL database when
/// `HERALD_TEST_DATABASE_URL` names a server.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("HERALD_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => fresh_postgres().await,
        _ => sqlite_in(dir),
    }
}

/// A SQLite file in `dir`.
pub fn sqlite_in(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("herald.db").display())
}

/// A new, empty PostgreSQL database on the server `HERALD_TEST_DATABASE_URL` names.
pub async fn fresh_postgres() -> String {
    let base = std::env::var("HERALD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| panic!("HERALD_TEST_DATABASE_URL is not set"));
    let name = format!("herald_test_{}", store::new_id());
    let admin = Database::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("connect {base}: {e}"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("create database: {e}"));
    let _ = admin.close().await;
    let mut url = url::Url::parse(&base).unwrap_or_else(|e| panic!("{base}: {e}"));
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server after letting `adjust` change its settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let database_url = fresh_database(dir.path()).await;
        Self::start(dir, database_url, Clock::system(), adjust).await
    }

    /// Starts a server on a SQLite file, whatever the suite runs on.
    pub async fn spawn_sqlite() -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let database_url = sqlite_in(dir.path());
        Self::start(dir, database_url, Clock::system(), |_| {}).await
    }

    /// Starts a server on a new PostgreSQL database (`HERALD_TEST_DATABASE_URL` must be set).
    pub async fn spawn_postgres() -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let database_url = fresh_postgres().await;
        Self::start(dir, database_url, Clock::system(), |_| {}).await
    }

    /// Starts a server on an existing database that holds the admin token `admin`
    /// (no token is added).
    pub async fn spawn_on(database_url: &str, admin: &str) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        Self::launch(
            dir,
            database_url.to_owned(),
            Clock::system(),
            |_| {},
            Some(admin.to_owned()),
        )
        .await
    }

    /// Starts a server on a manual clock standing at `start`; the test moves it with
    /// `app.clock.advance(..)`.
    pub async fn spawn_at(start: chrono::DateTime<Utc>) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let database_url = fresh_database(dir.path()).await;
        Self::start(dir, database_url, Clock::manual(start), |_| {}).await
    }

    /// Like [`TestApp::spawn_at`], after letting `adjust` change its settings.
    pub async fn spawn_at_with(
        start: chrono::DateTime<Utc>,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let database_url = fresh_database(dir.path()).await;
        Self::start(dir, database_url, Clock::manual(start), adjust).await
    }

    /// Starts another server on the same database (as a second instance would).
    pub async fn sibling(&self) -> TestApp {
        self.sibling_with(|_| {}).await
    }

    /// Like [`TestApp::sibling`], after letting `adjust` change its settings (a restart
    /// keeps its mail server, say).
    pub async fn sibling_with(&self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let admin = Some(self.admin.clone());
        Self::launch(
            dir,
            self.database_url.clone(),
            self.clock.clone(),
            adjust,
            admin,
        )
        .await
    }

    async fn start(
        dir: tempfile::TempDir,
        database_url: String,
        clock: Clock,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        Self::launch(dir, database_url, clock, adjust, None).await
    }

    /// Starts the server; mints an admin token unless one is given.
    async fn launch(
        dir: tempfile::TempDir,
        database_url: String,
        clock: Clock,
        adjust: impl FnOnce(&mut Settings),
        admin: Option<String>,
    ) -> TestApp {
        if std::env::var("TEST_LOG").is_ok() {
            herald::telemetry::init("pretty", "info");
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let mut settings = Settings {
            database_url: database_url.clone(),
            bind: addr.to_string(),
            workers: Some(1),
            poll_interval_ms: 100,
            mail_dir: dir.path().join("mail"),
            ..Settings::default()
        };
        adjust(&mut settings);
        let running = server::launch(settings, listener, clock.clone())
            .await
            .unwrap_or_else(|e| panic!("launch: {e:#}"));
        let handle = running.handle.clone();
        let state = running.state.clone();
        tokio::spawn(running.server);
        let admin = match admin {
            Some(a) => a,
            None => {
                store::tokens::create(state.store.db(), "test admin", Role::Admin, clock.now())
                    .await
                    .unwrap_or_else(|e| panic!("token: {e}"))
                    .1
                    .0
            }
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        TestApp {
            base: format!("http://{addr}"),
            page_id: state.store.page_id().to_string(),
            admin,
            client,
            state,
            clock,
            database_url,
            handle,
            _dir: dir,
        }
    }

    /// Seeds the demo page, as `herald serve --demo` does.
    pub async fn seed_demo(&self) {
        store::seed::demo(&self.state.store, self.clock.now())
            .await
            .unwrap_or_else(|e| panic!("seed: {e}"));
        self.settle().await;
    }

    /// Rebuilds the public snapshot now, as the periodic refresh does.
    pub async fn rebuild(&self) {
        self.state
            .snapshots
            .rebuild(&self.state.store, self.clock.now())
            .await;
    }

    /// Rebuilds the public snapshot from scratch, as after a change made by hand.
    pub async fn rebuild_all(&self) {
        self.state
            .snapshots
            .rebuild_all(&self.state.store, self.clock.now())
            .await;
    }

    /// Waits until the public side shows every change committed so far, compressed.
    pub async fn settle(&self) {
        let head = *self.state.store.head().borrow();
        self.state.shown(Some(head)).await;
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            self.state.snapshots.compressed(head),
        )
        .await;
    }

    pub async fn token(&self, role: Role) -> String {
        store::tokens::create(
            self.state.store.db(),
            &format!("test {role}"),
            role,
            self.clock.now(),
        )
        .await
        .unwrap_or_else(|e| panic!("token: {e}"))
        .1
        .0
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `/v1/pages/{page_id}` + `rest`.
    pub fn page_path(&self, rest: &str) -> String {
        format!("/v1/pages/{}{rest}", self.page_id)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.header("Authorization", format!("OAuth {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        Resp {
            status: res.status(),
            headers: res.headers().clone(),
            text: res.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, Some(&self.admin), None).await
    }

    pub async fn public(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(&self.admin), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(&self.admin), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(&self.admin), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, Some(&self.admin), None)
            .await
    }

    pub async fn create_component(&self, name: &str, group_id: Option<&str>) -> Value {
        self.post(
            &self.page_path("/components"),
            json!({"component": {"name": name, "group_id": group_id}}),
        )
        .await
        .expect(201)
        .json()
    }

    pub async fn create_group(&self, name: &str, members: &[&str]) -> Value {
        self.post(
            &self.page_path("/component-groups"),
            json!({"component_group": {"name": name, "components": members}}),
        )
        .await
        .expect(201)
        .json()
    }

    pub async fn create_incident(&self, incident: Value) -> Value {
        self.post(
            &self.page_path("/incidents"),
            json!({ "incident": incident }),
        )
        .await
        .expect(201)
        .json()
    }

    pub async fn update_incident(&self, id: &str, incident: Value) -> Value {
        self.patch(
            &self.page_path(&format!("/incidents/{id}")),
            json!({ "incident": incident }),
        )
        .await
        .expect(200)
        .json()
    }

    pub async fn component(&self, id: &str) -> Value {
        self.get(&self.page_path(&format!("/components/{id}")))
            .await
            .expect(200)
            .json()
    }

    /// The event log as the backfill API serves it.
    pub async fn events(&self) -> Vec<Value> {
        match self
            .get(&self.page_path("/events?limit=1000"))
            .await
            .expect(200)
            .json()
        {
            Value::Array(a) => a,
            other => panic!("events: {other}"),
        }
    }

    /// Stops the server and its delivery and reminder workers, as a process exit would.
    pub async fn stop(&self) {
        self.state.notifier.halt();
        self.handle.stop(false).await;
    }
}

/// A Statuspage example document, kept in `tests/fixtures/statuspage/examples` (copied
/// from Statuspage's documentation, so the suite needs nothing outside the repository).
pub fn statuspage_example(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/statuspage/examples")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl TestApp {
    /// Starts a server that sends mail to `sink`.
    pub async fn spawn_mailing(sink: &smtp::Sink) -> TestApp {
        let url = sink.url();
        Self::spawn_with(move |s| s.smtp_url = Some(url)).await
    }

    /// Like [`TestApp::spawn_mailing`], on a manual clock standing at `start`.
    pub async fn spawn_mailing_at(sink: &smtp::Sink, start: chrono::DateTime<Utc>) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let database_url = fresh_database(dir.path()).await;
        let url = sink.url();
        Self::start(dir, database_url, Clock::manual(start), move |s| {
            s.smtp_url = Some(url);
        })
        .await
    }

    /// The ledger as the admin API serves it, with `query` (`incident_id=...`).
    pub async fn deliveries(&self, query: &str) -> Vec<Value> {
        match self
            .get(&self.page_path(&format!("/deliveries?limit=500&{query}")))
            .await
            .expect(200)
            .json()
        {
            Value::Array(a) => a,
            other => panic!("deliveries: {other}"),
        }
    }

    /// Waits (up to 90 s: a notification whose expansion failed under load is taken
    /// up again after its lease) until every notification is expanded and every
    /// delivery finished: `herald_outbox_depth` is 0.
    pub async fn deliveries_settled(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        loop {
            let metrics = self.public("/metrics").await.text;
            if metrics.lines().any(|l| l == "herald_outbox_depth 0") {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "notifications still pending:\n{metrics}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Creates an active email subscriber following `components` (none: everything).
    pub async fn subscribe(&self, email: &str, components: &[&str]) -> Value {
        self.post(
            &self.page_path("/subscribers"),
            json!({"subscriber": {"email": email, "component_ids": components, "skip_confirmation_notification": true}}),
        )
        .await
        .expect(201)
        .json()
    }
}

impl TestApp {
    /// Starts a server on a manual clock standing at `start` that may send to loopback
    /// endpoints (`HERALD_WEBHOOK_ALLOW=127.0.0.0/8`) and mails `sink` if given.
    pub async fn spawn_hooks_at(
        start: chrono::DateTime<Utc>,
        sink: Option<&smtp::Sink>,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let database_url = fresh_database(dir.path()).await;
        let url = sink.map(smtp::Sink::url);
        Self::start(dir, database_url, Clock::manual(start), move |s| {
            s.smtp_url = url;
            s.webhook_allow = "127.0.0.0/8".into();
        })
        .await
    }
}
