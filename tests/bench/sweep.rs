//! The data-size benchmark: how Herald's writes, rebuilds, memory, start-up and public
//! serving behave as a page's history grows, beside nginx serving the same bytes.
//!
//!     tests/bench/sweep.sh            (builds the release binaries, then runs this)
//!     target/release/herald-bench hooks [N ...]   (webhook fan-out, see hooks.rs)
//!     target/release/herald-bench console [N]     (console pages, see console.rs)
//!
//! For each size (BENCH_SIZES, default "1000 5000 20000") it seeds that many incidents
//! straight into a fresh SQLite database, starts the release `herald serve` on it and
//! prints: start-up time to `/readyz`; admin write latency p50/p99 (PATCHes of an open
//! incident, one after another); rebuild time p50/p99 (from Herald's own log); RSS
//! after start and at peak; `/` and `/api/v2/summary.json` throughput and p99 at 64
//! connections, alone and while an update lands every 200 ms; and nginx serving the
//! same bytes in the same run. Not a test: figures, not verdicts. Traffic stays on
//! 127.0.0.1 and everything stops by itself.

mod console;
mod hooks;
mod seed;

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18080)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// kB from /proc/PID/status (`VmRSS` or `VmHWM`).
fn memory_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Wrk {
    rps: f64,
    p99_ms: f64,
}

fn wrk_ms(s: &str) -> f64 {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_alphabetic()).unwrap_or(s.len()));
    let v: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        "m" => v * 60_000.0,
        _ => f64::NAN,
    }
}

fn wrk(url: &str, conns: u32, secs: u32) -> Wrk {
    let run = |d: u32, latency: bool| {
        let mut c = Command::new("wrk");
        c.args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{d}s"),
            "--timeout",
            "5s",
        ]);
        if latency {
            c.arg("--latency");
        }
        c.arg(url);
        c.output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    run(2, false);
    let out = run(secs, true);
    let rps = out
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    let p99_ms = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("99%"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map_or(f64::NAN, wrk_ms);
    Wrk { rps, p99_ms }
}

/// The home page's p99 at 8 connections, alone and while 64 connections crawl distinct
/// history and incident pages (what an unauthenticated crawler costs), and the
/// crawl's req/s.
fn crawl(dir: &Path, base: &str, incidents: usize, secs: u32) -> anyhow::Result<(Wrk, Wrk, Wrk)> {
    let script = dir.join("crawl.lua");
    let pages = incidents.div_ceil(25).max(1);
    std::fs::write(
        &script,
        format!(
            "math.randomseed(7)\nrequest = function()\n  if math.random() < 0.5 then\n    return wrk.format(\"GET\", \"/history?page=\" .. math.random(2, {pages}))\n  end\n  return wrk.format(\"GET\", string.format(\"/incidents/nc%010d\", math.random(0, {last})))\nend\n",
            last = incidents.saturating_sub(1)
        ),
    )?;
    let home = format!("{base}/");
    let idle = wrk(&home, 8, secs);
    let crawler = {
        let (base, script) = (base.to_owned(), script.clone());
        std::thread::spawn(move || {
            let out = Command::new("wrk")
                .args([
                    "-t1",
                    "-c64",
                    &format!("-d{}s", secs + 2),
                    "--timeout",
                    "5s",
                ])
                .arg("-s")
                .arg(&script)
                .arg(&base)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            out.lines()
                .find(|l| l.starts_with("Requests/sec:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    let busy = wrk(&home, 8, secs);
    let crawl_rps = crawler.join().unwrap_or(f64::NAN);
    Ok((
        idle,
        busy,
        Wrk {
            rps: crawl_rps,
            p99_ms: f64::NAN,
        },
    ))
}

struct Herald {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Herald {
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn herald_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .map(|d| d.join("herald"))
        .unwrap_or_else(|| PathBuf::from("target/release/herald"))
}

fn start_herald(
    dir: &Path,
    db: &str,
    extra: &[(&str, &str)],
) -> anyhow::Result<(Herald, Duration)> {
    let port = free_port();
    let log = dir.join("herald.log");
    let started = Instant::now();
    let mut cmd = Command::new(herald_bin());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd
        .arg("serve")
        .current_dir(dir)
        .env("HERALD_DATABASE_URL", db)
        .env("HERALD_BIND", format!("127.0.0.1:{port}"))
        .env("HERALD_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("HERALD_LOG_FORMAT", "json")
        .env("HERALD_LOG", "warn,herald::snapshot=debug")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log)?))
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}");
    let h = Herald { child, url, log };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ok = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("{}/readyz", h.url),
            ])
            .output()
            .map(|o| o.stdout == b"200")
            .unwrap_or(false);
        if ok {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "herald did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok((h, started.elapsed()))
}

/// Build times of the snapshot, from Herald's debug log.
fn rebuild_ms(log: &Path) -> Vec<f64> {
    let mut v: Vec<f64> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "public snapshot rebuilt")
        .filter_map(|l| Some(l["load_ms"].as_f64()? + l["build_ms"].as_f64()?))
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// `n` admin writes one after another (PATCHes of `incident`): their latencies in ms,
/// sorted.
async fn writes(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    n: usize,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let r = client
            .patch(url)
            .header("Authorization", format!("OAuth {token}"))
            .json(&patch_body(i))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "PATCH {}", r.status());
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn patch_body(n: usize) -> Value {
    let status = if n.is_multiple_of(2) {
        "monitoring"
    } else {
        "identified"
    };
    json!({"incident": {"status": status, "body": format!("Update {n}: traffic is moving back. Please expect additional updates within the next 30 minutes."), "next_update_in_minutes": 30}})
}

/// The page's open incident, by the admin API.
async fn open_incident(
    client: &reqwest::Client,
    base: &str,
    page_id: &str,
    token: &str,
) -> anyhow::Result<String> {
    let open: Value = client
        .get(format!("{base}/v1/pages/{page_id}/incidents/unresolved"))
        .header("Authorization", format!("OAuth {token}"))
        .send()
        .await?
        .json()
        .await?;
    let id = open[0]["id"].as_str().unwrap_or("").to_owned();
    anyhow::ensure!(!id.is_empty(), "no open incident: {open}");
    Ok(id)
}

struct Row {
    size: usize,
    /// The home page alone, during a crawl, and the crawl.
    crawled: (Wrk, Wrk, Wrk),
    /// Write p50/p99 with synchronous=FULL and NORMAL, for the first size only.
    durability: Option<((f64, f64), (f64, f64))>,
    startup_ms: f64,
    write_p50: f64,
    write_p99: f64,
    rebuild_p50: f64,
    rebuild_p99: f64,
    rss_start_mb: f64,
    rss_peak_mb: f64,
    serving: Vec<(String, u32, &'static str, Wrk)>,
}

/// Serves `files` (path, bytes, the headers Herald sent with them) with nginx from
/// `dir` on a free port, sending the same headers, so both send about the same bytes.
/// A document nginx serves: its path, its bytes, the headers Herald sent with it.
type Served<'a> = (&'a str, Vec<u8>, Vec<(String, String)>);

fn start_nginx(dir: &Path, files: &[Served<'_>]) -> anyhow::Result<(Child, String)> {
    let port = free_port();
    let www = dir.join("www");
    let mut locations = String::new();
    for (path, bytes, headers) in files {
        locations.push_str(&format!("  location = {path} {{\n"));
        for (k, v) in headers {
            if matches!(
                k.as_str(),
                "date" | "content-length" | "etag" | "content-type" | "x-request-id"
            ) {
                continue;
            }
            locations.push_str(&format!("    add_header {k} \"{v}\";\n"));
        }
        locations.push_str("  }\n");
        let name = if *path == "/" { "/index.html" } else { path };
        let f = www.join(name.trim_start_matches('/'));
        if let Some(p) = f.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(f, bytes)?;
    }
    std::fs::create_dir_all(dir.join("logs"))?;
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 2;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\nevents {{ worker_connections 4096; }}\nhttp {{\n access_log off;\n types {{ text/html html; application/json json; }}\n server {{\n  listen 127.0.0.1:{port}; root {w}; index index.html;\n{locations} }}\n}}\n",
            d = dir.display(),
            w = www.display()
        ),
    )?;
    let nginx = if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    };
    let child = Command::new(nginx)
        .args([
            "-p",
            &dir.display().to_string(),
            "-c",
            &conf.display().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(300));
    Ok((child, format!("http://127.0.0.1:{port}")))
}

async fn measure(size: usize, secs: u32, first: bool) -> anyhow::Result<Row> {
    let dir = tempfile::tempdir()?;
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("herald.db").display()
    );
    let status = Command::new(herald_bin())
        .arg("migrate")
        .env("HERALD_DATABASE_URL", &db)
        .env("HERALD_LOG", "warn")
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "migrate failed");
    let seeded = Instant::now();
    let page_id = seed::seed(&db, size, chrono::Utc::now()).await?;
    eprintln!(
        "  seeded {size} incidents in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let (h, startup) = start_herald(dir.path(), &db, &[])?;
    let pid = h.child.id();
    std::thread::sleep(Duration::from_millis(500));
    let rss_start = memory_kb(pid, "VmRSS:");
    let token = std::fs::read_to_string(dir.path().join("herald-admin-token"))?
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    let incident = open_incident(&client, &h.url, &page_id, &token).await?;
    let patch_url = format!("{}/v1/pages/{page_id}/incidents/{incident}", h.url);
    let patch = patch_body;
    // Admin writes, one after another.
    let write_ms = writes(&client, &patch_url, &token, 200).await?;
    let rebuilds = rebuild_ms(&h.log);

    let mut serving = Vec::new();
    let paths = ["/", "/api/v2/summary.json"];
    let mut files = Vec::new();
    for p in paths {
        let res = client.get(format!("{}{p}", h.url)).send().await?;
        let headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_owned())))
            .collect();
        let bytes = res.bytes().await?.to_vec();
        files.push((p, bytes, headers));
    }
    let ngx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&ngx_dir)?;
    let (mut ngx, ngx_url) = start_nginx(&ngx_dir, &files)?;
    for p in paths {
        let url = format!("{}{p}", h.url);
        for conns in [64, 256] {
            let alone = tokio::task::spawn_blocking({
                let url = url.clone();
                move || wrk(&url, conns, secs)
            })
            .await?;
            let n = tokio::task::spawn_blocking({
                let url = format!("{ngx_url}{p}");
                move || wrk(&url, conns, secs)
            })
            .await?;
            serving.push((p.to_owned(), conns, "herald alone", alone));
            serving.push((p.to_owned(), conns, "nginx", n));
        }
        // The same while an update lands every 200 ms.
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (client, stop, patch_url, token) = (
                client.clone(),
                stop.clone(),
                patch_url.clone(),
                token.clone(),
            );
            tokio::spawn(async move {
                let mut n = 1000;
                while !stop.load(Ordering::Relaxed) {
                    let _ = client
                        .patch(&patch_url)
                        .header("Authorization", format!("OAuth {token}"))
                        .json(&patch(n))
                        .send()
                        .await;
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        };
        let busy = tokio::task::spawn_blocking({
            let url = url.clone();
            move || wrk(&url, 64, secs)
        })
        .await?;
        stop.store(true, Ordering::Relaxed);
        let _ = writer.await;
        serving.push((p.to_owned(), 64, "herald + writes", busy));
    }
    let _ = ngx.kill();
    let _ = ngx.wait();
    let crawled = tokio::task::spawn_blocking({
        let (dir, url) = (dir.path().to_path_buf(), h.url.clone());
        move || crawl(&dir, &url, size, secs)
    })
    .await??;
    let rss_peak = memory_kb(pid, "VmHWM:");
    h.stop();
    // The cost of durability: the same writes after a restart with synchronous=FULL,
    // then NORMAL, each in the same state.
    let durability = if first {
        let mut out = Vec::new();
        for sync in ["full", "normal"] {
            let (h, _) = start_herald(dir.path(), &db, &[("HERALD_SQLITE_SYNCHRONOUS", sync)])?;
            let url = format!("{}/v1/pages/{page_id}/incidents/{incident}", h.url);
            let w = writes(&client, &url, &token, 200).await?;
            h.stop();
            out.push((percentile(&w, 0.5), percentile(&w, 0.99)));
        }
        Some((out[0], out[1]))
    } else {
        None
    };
    Ok(Row {
        size,
        durability,
        crawled,
        startup_ms: startup.as_secs_f64() * 1000.0,
        write_p50: percentile(&write_ms, 0.5),
        write_p99: percentile(&write_ms, 0.99),
        rebuild_p50: percentile(&rebuilds, 0.5),
        rebuild_p99: percentile(&rebuilds, 0.99),
        rss_start_mb: rss_start as f64 / 1024.0,
        rss_peak_mb: rss_peak as f64 / 1024.0,
        serving,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `herald-bench seed DATABASE_URL N`: only seed (for profiling by hand).
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("seed") {
        let (Some(url), Some(n)) = (args.get(2), args.get(3).and_then(|n| n.parse().ok())) else {
            anyhow::bail!("usage: herald-bench seed DATABASE_URL N");
        };
        let page = seed::seed(url, n, chrono::Utc::now()).await?;
        println!("{page}");
        return Ok(());
    }
    // `herald-bench hooks [N ...]`: the webhook fan-out benchmark.
    if args.get(1).map(String::as_str) == Some("hooks") {
        let mut sizes: Vec<usize> = args[2..].iter().filter_map(|n| n.parse().ok()).collect();
        if sizes.is_empty() {
            sizes = vec![1_000, 10_000];
        }
        return hooks::run(&sizes).await;
    }
    // `herald-bench console [N]`: the console's pages at N incidents (default 20000).
    if args.get(1).map(String::as_str) == Some("console") {
        let n = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20_000);
        return console::run(n).await;
    }
    let sizes: Vec<usize> = env_or("BENCH_SIZES", "1000 5000 20000")
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let secs: u32 = env_or("BENCH_DURATION", "10").parse().unwrap_or(10);
    eprintln!(
        "data-size sweep on {} cores; herald {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        herald_bin().display()
    );
    let mut rows = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        eprintln!("== {size} incidents");
        rows.push(measure(size, secs, i == 0).await?);
    }
    println!();
    println!(
        "| incidents | start-up to ready | admin write p50 / p99 | rebuild p50 / p99 | RSS start / peak |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| {} | {:.0} ms | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.0} / {:.0} MB |",
            r.size,
            r.startup_ms,
            r.write_p50,
            r.write_p99,
            r.rebuild_p50,
            r.rebuild_p99,
            r.rss_start_mb,
            r.rss_peak_mb
        );
    }
    println!();
    println!("| incidents | path | connections | server | req/s | p99 | vs nginx |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        for (path, conns, who, w) in &r.serving {
            let nginx = r
                .serving
                .iter()
                .find(|(p, c, n, _)| p == path && c == conns && *n == "nginx")
                .map_or(f64::NAN, |(_, _, _, n)| n.rps);
            println!(
                "| {} | {path} | {conns} | {who} | {:.0} | {:.2} ms | {:.2} |",
                r.size,
                w.rps,
                w.p99_ms,
                w.rps / nginx
            );
        }
    }
    println!();
    println!(
        "| incidents | home p99 alone (8 conns) | home p99 during a crawl | crawl of history and incident pages (64 conns) |"
    );
    println!("| --- | --- | --- | --- |");
    for r in &rows {
        let (idle, busy, crawl) = &r.crawled;
        println!(
            "| {} | {:.2} ms | {:.2} ms ({:.1}x) | {:.0} req/s |",
            r.size,
            idle.p99_ms,
            busy.p99_ms,
            busy.p99_ms / idle.p99_ms,
            crawl.rps
        );
    }
    for r in &rows {
        if let Some(((f50, f99), (n50, n99))) = r.durability {
            println!();
            println!(
                "Durability at {} incidents: admin write p50 / p99 {f50:.1} / {f99:.1} ms with synchronous=FULL (the default), {n50:.1} / {n99:.1} ms with NORMAL.",
                r.size
            );
        }
    }
    Ok(())
}
