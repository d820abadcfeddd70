//! The mail fan-out benchmark (not a test): one incident update told to 10,000 and
//! 100,000 email subscribers through a local SMTP sink on loopback, from the release
//! build. Prints, per audience: the import time, the time until every delivery is in
//! the ledger (enqueued), the times from the API call to the first and the last accepted
//! message, messages per second, Herald's peak RSS; then the first-message latency
//! (p50, p99) of small updates on the same page; and, as a reference, what lettre alone
//! sends to the same sink with the same number of connections.
//!
//!   tests/bench/fanout.sh            # BENCH_AUDIENCES="10000 100000"
//!
//! The sink is a minimal SMTP server in this process (it accepts everything and only
//! counts), so the figures are Herald's and not a Python server's. It acknowledges
//! what it reads at once (TCP_QUICKACK): lettre writes a message's body and its final
//! `.` in two writes without TCP_NODELAY, so with delayed ACKs every message waited
//! about 40 ms for the kernel (Nagle's algorithm holding the `.` back until the body
//! was acknowledged), which capped lettre alone near 700 messages a second.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

const CONNECTIONS: &str = "8";
const RATE: &str = "20000";

/// Accepted messages and when.
#[derive(Default)]
struct Sink {
    count: AtomicU64,
    /// SMTP connections opened to the sink.
    connections: AtomicU64,
    times: Mutex<Vec<Instant>>,
}

impl Sink {
    fn accepted(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
    fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        self.connections.store(0, Ordering::Relaxed);
        if let Ok(mut t) = self.times.lock() {
            t.clear();
        }
    }
    fn first_last(&self) -> (Option<Instant>, Option<Instant>) {
        match self.times.lock() {
            Ok(t) => (t.first().copied(), t.last().copied()),
            Err(_) => (None, None),
        }
    }
}

async fn sink_session(stream: tokio::net::TcpStream, sink: Arc<Sink>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut line = String::new();
    let mut in_data = false;
    loop {
        line.clear();
        // Not permanent: the kernel may fall back to delayed ACKs, so it is asked again
        // before each read.
        let _ = socket2::SockRef::from(lines.get_ref().as_ref()).set_tcp_quickack(true);
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if in_data {
            if line == ".\r\n" || line == ".\n" {
                in_data = false;
                sink.count.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut t) = sink.times.lock() {
                    t.push(Instant::now());
                }
                write.write_all(b"250 2.0.0 accepted\r\n").await?;
            }
            continue;
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => write.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?,
            "DATA" => {
                in_data = true;
                write.write_all(b"354 go on\r\n").await?;
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"250 ok\r\n").await?,
        }
    }
}

async fn start_sink() -> anyhow::Result<(Arc<Sink>, u16)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let sink = Arc::new(Sink::default());
    let s = sink.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // As real mail servers do: replies go out at once, not after a delayed ACK.
            let _ = stream.set_nodelay(true);
            s.connections.fetch_add(1, Ordering::Relaxed);
            let s = s.clone();
            tokio::spawn(async move {
                let _ = sink_session(stream, s).await;
            });
        }
    });
    Ok((sink, port))
}

fn bin(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)))
        .unwrap_or_else(|| PathBuf::from(format!("target/release/{name}")))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18090)
}

fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Herald {
    child: Child,
    url: String,
    token: String,
    page: String,
    http: reqwest::Client,
}

impl Drop for Herald {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Herald {
    async fn start(dir: &Path, smtp_port: u16) -> anyhow::Result<Herald> {
        let port = free_port();
        let child = Command::new(bin("herald"))
            .arg("serve")
            .current_dir(dir)
            .env("HERALD_DATABASE_URL", "sqlite://herald.db?mode=rwc")
            .env("HERALD_BIND", format!("127.0.0.1:{port}"))
            .env("HERALD_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("HERALD_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
            .env("HERALD_SMTP_RATE", RATE)
            .env("HERALD_SMTP_CONNECTIONS", CONNECTIONS)
            .env("HERALD_LOG", "warn")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(dir.join("herald.log"))?))
            .spawn()?;
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = http.get(format!("{url}/readyz")).send().await
                && r.status() == 200
            {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "herald did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let token = std::fs::read_to_string(dir.join("herald-admin-token"))?
            .trim()
            .to_owned();
        let pages: Value = http
            .get(format!("{url}/v1/pages"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let page = pages[0]["id"].as_str().unwrap_or_default().to_owned();
        Ok(Herald {
            child,
            url,
            token,
            page,
            http,
        })
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .post(format!("{}/v1/pages/{}{path}", self.url, self.page))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
        Ok(r.json().await?)
    }

    /// Deliveries in the ledger for an incident (its `deliveries` counts).
    async fn ledger(&self, incident: &str) -> u64 {
        let v: Value = match self
            .http
            .get(format!(
                "{}/v1/pages/{}/incidents/{incident}",
                self.url, self.page
            ))
            .bearer_auth(&self.token)
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        fn sum(v: &Value) -> u64 {
            match v {
                Value::Number(n) => n.as_u64().unwrap_or(0),
                Value::Object(o) => o.values().map(sum).sum(),
                _ => 0,
            }
        }
        sum(&v["deliveries"])
    }
}

fn herald_cli(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(bin("herald"))
        .args(args)
        .current_dir(dir)
        .env("HERALD_DATABASE_URL", "sqlite://herald.db?mode=rwc")
        .env("HERALD_LOG", "warn")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "herald {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn wait_for(sink: &Sink, n: u64, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while sink.accepted() < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {n} messages within {within:?}",
            sink.accepted()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

async fn audience(n: usize, sink: &Arc<Sink>, smtp_port: u16) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // A first start creates the page and the admin token; the components come next.
    let h = Herald::start(dir.path(), smtp_port).await?;
    let voice = h
        .post("/components", json!({"component": {"name": "Voice"}}))
        .await?;
    let probe = h
        .post("/components", json!({"component": {"name": "Probe"}}))
        .await?;
    drop(h);
    let mut csv = String::from("email,components\n");
    for i in 0..n {
        csv.push_str(&format!("person{i:06}@example.com,Voice\n"));
    }
    csv.push_str("probe@example.com,Probe\n");
    std::fs::write(dir.path().join("people.csv"), csv)?;
    let started = Instant::now();
    herald_cli(dir.path(), &["subscribers", "import", "people.csv"])?;
    let import = started.elapsed();

    let h = Herald::start(dir.path(), smtp_port).await?;
    sink.reset();
    let voice_id = voice["id"].as_str().unwrap_or_default().to_owned();
    let called = Instant::now();
    let inc = h
        .post(
            "/incidents",
            json!({"incident": {"name": "Voice calls fail", "body": "We are investigating.",
                            "components": {voice_id: "major_outage"}}}),
        )
        .await?;
    let answered = called.elapsed();
    let incident = inc["id"].as_str().unwrap_or_default().to_owned();
    let mut enqueued = None;
    let deadline = Instant::now() + Duration::from_secs(1800);
    while sink.accepted() < n as u64 {
        if enqueued.is_none() && h.ledger(&incident).await >= n as u64 {
            enqueued = Some(called.elapsed());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {n} messages",
            sink.accepted()
        );
        tokio::time::sleep(Duration::from_millis(if enqueued.is_none() {
            50
        } else {
            200
        }))
        .await;
    }
    let (first, last) = sink.first_last();
    let first = first.map(|t| t - called).unwrap_or_default();
    let last = last.map(|t| t - called).unwrap_or_default();
    let rate = (n as f64 - 1.0) / (last - first).as_secs_f64().max(1e-9);
    let rss = peak_rss_mb(h.child.id());
    let opened = sink.connections.load(Ordering::Relaxed);

    // First-message latency of small updates (to the one probe subscriber), with the
    // whole audience on the page.
    let probe_id = probe["id"].as_str().unwrap_or_default().to_owned();
    let mut latencies = Vec::new();
    for i in 0..30 {
        sink.reset();
        let t = Instant::now();
        h.post(
            "/incidents",
            json!({"incident": {"name": format!("Probe {i}"), "status": "resolved",
                                "components": {probe_id.clone(): "degraded_performance"}}}),
        )
        .await?;
        wait_for(sink, 1, Duration::from_secs(30)).await?;
        let (f, _) = sink.first_last();
        latencies.push(
            f.map(|f| (f - t).as_secs_f64() * 1000.0)
                .unwrap_or(f64::NAN),
        );
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let rss_after = peak_rss_mb(h.child.id());
    println!(
        "{n:>7} subscribers | import {:>6.1} s | API answer {:>5.0} ms | enqueued {:>7} | first {:>6.0} ms | last {:>7.1} s | {:>6.0} msg/s | peak RSS {:>5.1} MB | small update first mail p50 {:>4.0} ms p99 {:>5.0} ms (RSS then {:.1} MB) | {opened} SMTP connections",
        import.as_secs_f64(),
        answered.as_secs_f64() * 1000.0,
        enqueued
            .map(|e| format!("{:.1} s", e.as_secs_f64()))
            .unwrap_or_else(|| "n/a".into()),
        first.as_secs_f64() * 1000.0,
        last.as_secs_f64(),
        rate,
        rss,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        rss_after,
    );
    Ok(())
}

/// lettre alone, pooled, with as many connections, to the same sink.
async fn reference(n: usize, sink: &Arc<Sink>, smtp_port: u16) -> anyhow::Result<()> {
    use lettre::{
        AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, transport::smtp::PoolConfig,
    };
    let connections: u32 = CONNECTIONS.parse().unwrap_or(8);
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(smtp_port)
        .pool_config(PoolConfig::new().max_size(connections))
        .build();
    sink.reset();
    let started = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(connections as usize * 4));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await?;
        let t = transport.clone();
        let m = Message::builder()
            .from("status@example.com".parse()?)
            .to(format!("person{i:06}@example.com").parse()?)
            .subject("Voice calls fail")
            .body(String::from("We are investigating.\n"))?;
        tasks.push(tokio::spawn(async move {
            let r = t.send(m).await;
            drop(permit);
            r.map(|_| ())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n:>7} messages, lettre alone ({CONNECTIONS} pooled connections) to the same sink: {:.1} s, {:.0} msg/s ({} connections opened)",
        secs,
        n as f64 / secs,
        sink.connections.load(Ordering::Relaxed)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let audiences: Vec<usize> = std::env::var("BENCH_AUDIENCES")
        .unwrap_or_else(|_| "10000 100000".into())
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let (sink, port) = start_sink().await?;
    println!(
        "mail fan-out, release build, SQLite, {CONNECTIONS} SMTP connections, pace limit {RATE}/s, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    reference(10_000, &sink, port).await?;
    for n in audiences {
        audience(n, &sink, port).await?;
    }
    Ok(())
}
