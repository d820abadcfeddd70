//! The console's page benchmark: `herald-bench console [N]` (default 20000 incidents).
//!
//! Seeds N incidents into a fresh SQLite database, imports 20,000 subscribers with the
//! CLI, starts the release `herald serve`, posts one update that is told to all of them
//! (20,000 deliveries in the ledger), copies the audit log up to 50,000 entries, signs
//! an admin in through the one-time link the CLI prints, and then asks for every
//! console page one request at a time (after a warm-up) and prints p50 / p99 / max and
//! size per page, beside Herald's cached public page and nginx serving the dashboard's
//! bytes in the same run. Figures, not verdicts; traffic stays on 127.0.0.1.

use std::{
    collections::HashMap,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{herald_bin, percentile, start_herald, start_nginx};

const ROUNDS: usize = 100;
const SUBSCRIBERS: usize = 20_000;
const AUDIT: usize = 50_000;

fn cli(dir: &Path, db: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(herald_bin())
        .args(args)
        .current_dir(dir)
        .env("HERALD_DATABASE_URL", db)
        .env("HERALD_LOG", "warn")
        .stderr(Stdio::inherit())
        .output()?;
    anyhow::ensure!(out.status.success(), "herald {args:?} failed");
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A browser's session: the cookies the console set.
struct Session {
    client: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
}

impl Session {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or_default();
            if let Some((k, val)) = v.split(';').next().and_then(|p| p.split_once('=')) {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<(u16, String)> {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .send()
            .await?;
        self.keep(&res);
        let status = res.status().as_u16();
        Ok((status, res.text().await?))
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<u16> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Origin", self.base.clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        self.keep(&res);
        Ok(res.status().as_u16())
    }
}

fn csrf_in(html: &str) -> String {
    let key = "name=\"csrf\" value=\"";
    html.find(key)
        .map(|at| {
            let rest = &html[at + key.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_owned()
        })
        .unwrap_or_default()
}

struct Timed {
    path: String,
    status: u16,
    bytes: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

async fn time_page(s: &mut Session, path: &str) -> anyhow::Result<Timed> {
    let mut status = 0;
    let mut bytes = 0;
    for _ in 0..5 {
        (status, _) = s.get(path).await?;
    }
    let mut ms = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let (st, body) = s.get(path).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        status = st;
        bytes = body.len();
    }
    ms.sort_by(f64::total_cmp);
    Ok(Timed {
        path: path.to_owned(),
        status,
        bytes,
        p50: percentile(&ms, 0.5),
        p99: percentile(&ms, 0.99),
        max: ms.last().copied().unwrap_or(f64::NAN),
    })
}

async fn api(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let res = client
        .request(method, url)
        .header("Authorization", format!("OAuth {token}"))
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "{url}: {}", res.status());
    Ok(res.json().await?)
}

pub async fn run(n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("herald.db").display()
    );
    cli(dir.path(), &db, &["migrate"])?;
    let t = Instant::now();
    let page_id = super::seed::seed(&db, n, chrono::Utc::now()).await?;
    eprintln!(
        "  seeded {n} incidents in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut csv = String::from("email\n");
    for i in 0..SUBSCRIBERS {
        csv.push_str(&format!("person{i:06}@example.com\n"));
    }
    std::fs::write(dir.path().join("people.csv"), csv)?;
    cli(dir.path(), &db, &["subscribers", "import", "people.csv"])?;
    let link = cli(
        dir.path(),
        &db,
        &[
            "user",
            "create",
            "--email",
            "bench@example.com",
            "--role",
            "admin",
        ],
    )?;
    let link = link
        .lines()
        .find(|l| l.contains("/admin/welcome"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    anyhow::ensure!(!link.is_empty(), "no sign-in link from the CLI");

    let (h, _) = start_herald(
        dir.path(),
        &db,
        &[(
            "HERALD_MAIL_DIR",
            &dir.path().join("mail").display().to_string(),
        )],
    )?;
    let token = std::fs::read_to_string(dir.path().join("herald-admin-token"))?
        .trim()
        .to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let v1 = format!("{}/v1/pages/{page_id}", h.url);
    // The newest open incident gets an update told to every subscriber.
    let open = api(
        &client,
        reqwest::Method::GET,
        &format!("{v1}/incidents/unresolved"),
        &token,
        Value::Null,
    )
    .await?;
    let incident = open
        .as_array()
        .and_then(|a| a.first())
        .and_then(|i| i["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let resolved = api(
        &client,
        reqwest::Method::GET,
        &format!("{v1}/incidents?per_page=1&page=3"),
        &token,
        Value::Null,
    )
    .await?;
    let old = resolved
        .as_array()
        .and_then(|a| a.first())
        .and_then(|i| i["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    api(
        &client,
        reqwest::Method::PATCH,
        &format!("{v1}/incidents/{incident}"),
        &token,
        json!({"incident": {"status": "identified", "body": "Found it.", "deliver_notifications": true}}),
    )
    .await?;
    let t = Instant::now();
    loop {
        let by = api(
            &client,
            reqwest::Method::GET,
            &format!("{v1}/incidents/{incident}"),
            &token,
            Value::Null,
        )
        .await?;
        let told: u64 = by["deliveries"]["email"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        if told >= SUBSCRIBERS as u64 || t.elapsed() > Duration::from_secs(300) {
            eprintln!("  {told} deliveries in the ledger");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The audit log, copied up to its size (the copies are as real rows as the first).
    {
        let conn = sea_orm::Database::connect(&db).await?;
        use sea_orm::ConnectionTrait;
        while {
            let r = conn
                .query_one_raw(sea_orm::Statement::from_string(
                    conn.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM audit_log",
                ))
                .await?;
            r.and_then(|r| r.try_get::<i64>("", "n").ok()).unwrap_or(0) < AUDIT as i64
        } {
            conn.execute_unprepared(
                "INSERT INTO audit_log (at, token_id, actor, client_addr, action, subject_type, subject_id, detail) \
                 SELECT at, token_id, actor, client_addr, action, subject_type, subject_id, detail FROM audit_log LIMIT 10000",
            )
            .await?;
        }
    }

    let mut s = Session {
        client: client.clone(),
        base: h.url.clone(),
        cookies: HashMap::new(),
    };
    let path = link
        .find("/admin/welcome")
        .map(|at| link[at..].to_owned())
        .unwrap_or_default();
    let token_q = path.split("token=").nth(1).unwrap_or_default().to_owned();
    let (_, page) = s.get(&path).await?;
    let csrf = csrf_in(&page);
    let status = s
        .post(
            "/admin/welcome",
            &[
                ("csrf", &csrf),
                ("token", &token_q),
                ("password", "a benchmark password"),
                ("confirm", "a benchmark password"),
            ],
        )
        .await?;
    anyhow::ensure!(status == 303, "signing in answered {status}");

    let pages = [
        "/admin".to_owned(),
        "/admin/incidents/new".to_owned(),
        format!("/admin/incidents/{incident}"),
        format!("/admin/incidents/{old}"),
        format!("/admin/incidents/{old}/postmortem"),
        format!("/admin/incidents/{incident}/deliveries"),
        "/admin/deliveries?state=any".to_owned(),
        "/admin/audit".to_owned(),
        "/admin/maintenance".to_owned(),
        "/admin/components".to_owned(),
        "/admin/templates".to_owned(),
        "/admin/subscribers".to_owned(),
        "/admin/subscribers?q=person01999".to_owned(),
        "/admin/tenants".to_owned(),
        "/admin/settings".to_owned(),
    ];
    let mut rows = Vec::new();
    for p in &pages {
        rows.push(time_page(&mut s, p).await?);
    }
    // References in the same run: Herald's cached public page, and nginx sending the
    // dashboard's bytes.
    let mut public = Session {
        client: client.clone(),
        base: h.url.clone(),
        cookies: HashMap::new(),
    };
    let home = time_page(&mut public, "/").await?;
    let (_, dash) = s.get("/admin").await?;
    let ngx_dir = dir.path().join("nginx");
    std::fs::create_dir_all(&ngx_dir)?;
    let (mut ngx, ngx_url) = start_nginx(
        &ngx_dir,
        &[(
            "/admin.html",
            dash.into_bytes(),
            vec![("cache-control".to_owned(), "no-store".to_owned())],
        )],
    )?;
    let mut n_session = Session {
        client,
        base: ngx_url,
        cookies: HashMap::new(),
    };
    let nginx = time_page(&mut n_session, "/admin.html").await?;
    let _ = ngx.kill();
    let _ = ngx.wait();
    h.stop();

    println!();
    println!(
        "Console pages at {n} incidents, {SUBSCRIBERS} subscribers, {SUBSCRIBERS} deliveries on one incident, {AUDIT}+ audit entries; one request at a time, {ROUNDS} each after a warm-up:"
    );
    println!();
    println!("| page | status | bytes | p50 | p99 | max |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let show = |label: &str, r: &Timed| {
        println!(
            "| {label} | {} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
            r.status, r.bytes, r.p50, r.p99, r.max
        );
    };
    for r in &rows {
        let label = r
            .path
            .replace(&incident, "{open}")
            .replace(&old, "{resolved}");
        show(&label, r);
    }
    show("reference: Herald's public / (cached)", &home);
    show("reference: nginx sending the dashboard's bytes", &nginx);
    Ok(())
}
