//! The webhook fan-out benchmark: `herald-bench hooks [N ...]` (default 1000 10000).
//!
//! For each N it starts the release `herald serve` on a fresh SQLite database with
//! `HERALD_WEBHOOK_ALLOW=127.0.0.0/8`, subscribes N webhook endpoints (paths of one fast
//! receiver on loopback, tests/hooks.rs) through the API, creates one incident and
//! prints: the API call's time, the time to the first and the last delivery, the p50
//! and p99 of the endpoints' delivery times, deliveries per second between the first
//! and the last, Herald's peak RSS, and the p50 and p99 of the first delivery of
//! twenty follow-up updates (each told to every endpoint) after their API call.
//! Figures, not verdicts.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use herald_tests::hooks::Receiver;
use serde_json::{Value, json};

use super::{memory_kb, percentile, start_herald};

struct Row {
    n: usize,
    api_ms: f64,
    first_ms: f64,
    last_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    rate: f64,
    rss_mb: f64,
    /// First delivery of each of the follow-up updates after its API call: p50, p99.
    next_first: (f64, f64),
}

/// Follow-up updates to the same incident, each waited for at every endpoint.
const ROUNDS: usize = 20;

async fn measure(n: usize) -> anyhow::Result<Row> {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir()?;
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("herald.db").display()
    );
    let (h, _) = start_herald(dir.path(), &db, &[("HERALD_WEBHOOK_ALLOW", "127.0.0.0/8")])?;
    let token = std::fs::read_to_string(dir.path().join("herald-admin-token"))?
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    let auth = format!("OAuth {token}");
    let pages: Value = client
        .get(format!("{}/v1/pages", h.url))
        .header("Authorization", &auth)
        .send()
        .await?
        .json()
        .await?;
    let page = pages[0]["id"].as_str().unwrap_or_default().to_owned();
    let started = Instant::now();
    let made: Vec<bool> = futures_util::stream::iter(0..n)
        .map(|i| {
            let (client, auth, base, page) = (&client, &auth, &h.url, &page);
            let url = rx.url(&format!("/e{i}"));
            async move {
                client
                    .post(format!("{base}/v1/pages/{page}/subscribers"))
                    .header("Authorization", auth)
                    .json(&json!({"subscriber": {"endpoint": url, "email": "owner@example.com"}}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 201)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    anyhow::ensure!(made.iter().all(|m| *m), "subscribing failed");
    eprintln!(
        "   {n} endpoints subscribed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    let r = client
        .post(format!("{}/v1/pages/{page}/incidents", h.url))
        .header("Authorization", &auth)
        .json(&json!({"incident": {"name": "Fan-out", "body": "Everyone hears of this."}}))
        .send()
        .await?;
    let api_ms = t0.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(r.status() == 201, "incident: {}", r.status());
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if rx.arrivals().0 >= n {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {n} delivered",
            rx.arrivals().0
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, first, last) = rx.arrivals();
    let incident: Value = r.json().await?;
    let incident = incident["id"].as_str().unwrap_or_default().to_owned();
    // First-delivery latency of the updates that follow, each told to every endpoint.
    let mut firsts = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let before = rx.arrivals().0;
        let t = Instant::now();
        let r = client
            .patch(format!("{}/v1/pages/{page}/incidents/{incident}", h.url))
            .header("Authorization", &auth)
            .json(&json!({"incident": {"body": format!("Update {round}.")}}))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "update: {}", r.status());
        let deadline = Instant::now() + Duration::from_secs(600);
        while rx.arrivals().0 < before + n {
            anyhow::ensure!(Instant::now() < deadline, "update {round} not delivered");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let all = rx.all();
        if let Some(f) = all.get(before) {
            firsts.push((f.at - t).as_secs_f64() * 1000.0);
        }
    }
    firsts.sort_by(f64::total_cmp);
    let rss_mb = memory_kb(h.child.id(), "VmHWM") as f64 / 1024.0;
    let ms = |t: Option<Instant>| t.map_or(f64::NAN, |t| (t - t0).as_secs_f64() * 1000.0);
    let mut each: Vec<f64> = rx
        .all()
        .iter()
        .take(n)
        .map(|r| (r.at - t0).as_secs_f64() * 1000.0)
        .collect();
    each.sort_by(f64::total_cmp);
    let (first_ms, last_ms) = (ms(first), ms(last));
    h.stop();
    rx.stop().await;
    Ok(Row {
        n,
        api_ms,
        first_ms,
        last_ms,
        p50_ms: percentile(&each, 0.5),
        p99_ms: percentile(&each, 0.99),
        rate: n as f64 / ((last_ms - first_ms) / 1000.0).max(0.001),
        rss_mb,
        next_first: (percentile(&firsts, 0.5), percentile(&firsts, 0.99)),
    })
}

pub async fn run(sizes: &[usize]) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for n in sizes {
        eprintln!("== {n} webhook endpoints");
        rows.push(measure(*n).await?);
    }
    println!();
    println!(
        "| endpoints | API call | first delivery | last delivery | delivery p50 / p99 | deliveries/s | peak RSS | next updates' first delivery p50 / p99 |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {:.0} ms | {:.0} ms | {:.2} s | {:.0} / {:.0} ms | {:.0} | {:.0} MB | {:.0} / {:.0} ms |",
            r.n,
            r.api_ms,
            r.first_ms,
            r.last_ms / 1000.0,
            r.p50_ms,
            r.p99_ms,
            r.rate,
            r.rss_mb,
            r.next_first.0,
            r.next_first.1
        );
    }
    Ok(())
}
