//! Herald as an operator runs it: the real command line in its own process, started,
//! signalled and stopped, on SQLite files and PostgreSQL databases.

mod database;
mod fanout;
mod prefix;
mod probes;
mod settings;
mod signals;
mod tls;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// The `herald` command line, with no `HERALD_*` variable from the test's environment.
pub fn herald(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald-cli"));
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("HERALD_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs a command to its end: (status, stdout, stderr).
pub fn run(mut cmd: Command) -> (ExitStatus, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running herald: {e}"));
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// PostgreSQL for the tests that need it, when the suite runs on it.
pub fn postgres() -> Option<String> {
    std::env::var("HERALD_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Says so when a test needs PostgreSQL and the suite runs on SQLite (CI runs both).
pub fn skip_without_postgres(test: &str) -> Option<String> {
    let pg = postgres();
    if pg.is_none() {
        eprintln!(
            "{test}: skipped on SQLite; it runs when HERALD_TEST_DATABASE_URL names PostgreSQL"
        );
    }
    pg
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A `herald serve` process.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub url: String,
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Server {
    /// Starts `herald serve` in `dir` with `env`, and waits until it is ready.
    pub async fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut s = Self::spawn(dir, env);
        s.ready().await;
        s
    }

    /// Starts `herald serve` without waiting.
    pub fn spawn(dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let log = dir.join(format!("herald-{port}.log"));
        let file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("log file: {e}"));
        let mut cmd = herald(dir);
        cmd.arg("serve")
            .env("HERALD_BIND", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting herald: {e}"));
        Server {
            child,
            port,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            log,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for `/readyz` (at `path_prefix`), failing with the log if Herald exits.
    pub async fn ready_at(&mut self, path_prefix: &str) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "herald exited ({status}) before it was ready:\n{}",
                    self.log()
                );
            }
            if let Ok(r) = client
                .get(format!("{}{path_prefix}/readyz", self.url))
                .send()
                .await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "herald was not ready within a minute:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn ready(&mut self) {
        self.ready_at("").await;
    }

    /// The admin token written at first start (no terminal: to a 0600 file).
    pub fn admin_token(&self) -> String {
        let path = self.dir.join("herald-admin-token");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", path.display(), self.log()))
            .trim()
            .to_owned()
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{name} failed");
    }

    /// Waits for the process to end (at most `secs`).
    pub async fn wait(&mut self, secs: u64) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("herald did not stop within {secs} s:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops with SIGTERM and expects a clean exit.
    pub async fn stop(mut self) -> String {
        self.signal("TERM");
        let status = self.wait(30).await;
        assert!(status.success(), "exit {status}:\n{}", self.log());
        self.log()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
