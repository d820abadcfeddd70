//! A real SMTP server for the tests: aiosmtpd (Python), installed by `tests/smtp/venv.sh`
//! into a virtual environment under `target/`, started per test on a free port. Each
//! message it accepts is a file the test reads back and parses as MIME.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

pub struct Sink {
    pub port: u16,
    dir: tempfile::TempDir,
    _child: Child,
}

/// A message as received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub file: PathBuf,
    /// The envelope's recipients, as the server got them.
    pub to: String,
    pub raw: Vec<u8>,
}

impl Mail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .unwrap_or_else(|| panic!("not MIME: {}", self.file.display()))
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// A header's raw value, trimmed (`None` when absent).
    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed()
            .header_raw(name)
            .map(|v| v.trim().replace("\r\n", "").replace('\n', ""))
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed()
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.parsed()
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default()
    }

    /// The first link in the text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let text = self.text();
        let start = text.find(prefix)?;
        let rest = &text[start..];
        Some(
            rest.split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

/// The virtual environment's python, made on first use.
async fn python() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("free port: {e}"))
}

impl Sink {
    pub async fn start() -> Sink {
        let python = python().await;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/sink.py");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&python)
                .arg(&script)
                .arg(dir.path())
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("starting the SMTP sink: {e}"));
            let Some(stdout) = child.stdout.take() else {
                panic!("no stdout from the SMTP sink")
            };
            let mut lines = BufReader::new(stdout).lines();
            let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
            if let Ok(Ok(Some(line))) = ready
                && line.starts_with("ready")
            {
                return Sink {
                    port,
                    dir,
                    _child: child,
                };
            }
            let _ = child.kill().await;
        }
        panic!("the SMTP sink did not start")
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How many messages arrived so far (cheap: counts files).
    pub fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or_default()
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .filter_map(|file| {
                let raw = std::fs::read(&file).ok()?;
                let head = String::from_utf8_lossy(&raw[..raw.len().min(2000)]).into_owned();
                let to = head
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("X-Envelope-To: "))
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                Some(Mail { file, to, raw })
            })
            .collect()
    }

    /// Waits (up to `within`) until at least `n` messages arrived; returns them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let all = self.messages();
            if all.len() >= n || tokio::time::Instant::now() > deadline {
                return all;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Messages to `address`.
    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.eq_ignore_ascii_case(address))
            .collect()
    }

    /// Refuse every transaction with `reply` (such as `451 4.3.0 Try again later`), or
    /// accept again (`None`).
    pub fn refuse(&self, reply: Option<&str>) {
        let p = self.dir.path().join("refuse");
        match reply {
            Some(r) => std::fs::write(&p, r).unwrap_or_else(|e| panic!("{e}")),
            None => {
                let _ = std::fs::remove_file(&p);
            }
        }
    }

    /// Refuse these recipients for good (550 at RCPT).
    pub fn reject(&self, addresses: &[&str]) {
        std::fs::write(self.dir.path().join("reject-rcpt"), addresses.join("\n"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
