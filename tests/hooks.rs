//! A real HTTP receiver for webhook and chat deliveries, on loopback in the test process
//! (actix-web). Each path is an endpoint with its own signing secret and behaviour
//! (answer 200, or 503 for a while, or a given status); every request is kept with
//! whether its Standard Webhooks signature verified, computed here independently of
//! Herald's code.

use std::{
    collections::HashMap,
    net::TcpListener,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Value,
    pub raw: Vec<u8>,
    /// Whether the signature verified with the path's secret (false without one).
    pub verified: bool,
    /// The status answered.
    pub answered: u16,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Received {
    /// `herald.seq`.
    pub fn seq(&self) -> i64 {
        self.body["herald"]["seq"].as_i64().unwrap_or(-1)
    }
}

#[derive(Default)]
struct Endpoint {
    secrets: Vec<String>,
    /// Answer this status for the next `n` requests.
    failing: Option<(u16, usize)>,
    /// Answer this status until told otherwise.
    down: Option<u16>,
    retry_after: Option<String>,
}

#[derive(Default)]
struct State {
    endpoints: HashMap<String, Endpoint>,
    received: Vec<Received>,
    /// How long every answer takes (a slow receiver).
    delay: Duration,
}

pub struct Receiver {
    pub base: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

/// Verifies a Standard Webhooks signature header with a `whsec_` secret.
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Ok(key) = STANDARD.decode(secret.trim_start_matches("whsec_")) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return false;
    };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header.split(' ').any(|s| s == expected)
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delay = lock(&state).delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let path = req.path().to_owned();
    let id = header("webhook-id");
    let timestamp = header("webhook-timestamp");
    let signature = header("webhook-signature");
    let mut s = lock(&state);
    let e = s.endpoints.entry(path.clone()).or_default();
    let verified = e
        .secrets
        .iter()
        .any(|k| verify(k, &id, &timestamp, &body, &signature));
    let answered = match (&mut e.failing, e.down) {
        (_, Some(code)) => code,
        (Some((code, n)), None) if *n > 0 => {
            *n -= 1;
            *code
        }
        _ => 200,
    };
    let retry_after = e.retry_after.clone();
    s.received.push(Received {
        path,
        id,
        timestamp,
        signature,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
        verified,
        answered,
        at: std::time::Instant::now(),
    });
    let mut res = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(answered).unwrap_or(actix_web::http::StatusCode::OK),
    );
    if let (Some(r), true) = (retry_after, answered != 200) {
        res.insert_header(("retry-after", r));
    }
    res.body(if answered == 200 { "ok" } else { "not now" })
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap_or_else(|e| panic!("listen: {e}"))
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            base: format!("http://127.0.0.1:{}", addr.port()),
            state,
            handle,
        }
    }

    /// The URL of endpoint `path` (`/a`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Adds a secret `path` verifies with (several during a rotation).
    pub fn secret(&self, path: &str, secret: &str) {
        lock(&self.state)
            .endpoints
            .entry(path.to_owned())
            .or_default()
            .secrets
            .push(secret.to_owned());
    }

    /// Answers `status` to the next `n` requests to `path`.
    pub fn fail_next(&self, path: &str, status: u16, n: usize) {
        lock(&self.state)
            .endpoints
            .entry(path.to_owned())
            .or_default()
            .failing = Some((status, n));
    }

    /// Answers `status` to every request to `path` until [`Receiver::up`].
    pub fn down(&self, path: &str, status: u16) {
        lock(&self.state)
            .endpoints
            .entry(path.to_owned())
            .or_default()
            .down = Some(status);
    }

    pub fn up(&self, path: &str) {
        lock(&self.state)
            .endpoints
            .entry(path.to_owned())
            .or_default()
            .down = None;
    }

    /// Sends `Retry-After: value` with failures on `path`.
    pub fn retry_after(&self, path: &str, value: &str) {
        lock(&self.state)
            .endpoints
            .entry(path.to_owned())
            .or_default()
            .retry_after = Some(value.to_owned());
    }

    /// Makes every answer take `delay`.
    pub fn slow(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }

    /// Every request, in arrival order.
    pub fn all(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    /// How many requests arrived, and the first and last arrival.
    pub fn arrivals(
        &self,
    ) -> (
        usize,
        Option<std::time::Instant>,
        Option<std::time::Instant>,
    ) {
        let s = lock(&self.state);
        (
            s.received.len(),
            s.received.first().map(|r| r.at),
            s.received.last().map(|r| r.at),
        )
    }

    /// Every request to `path`, in arrival order.
    pub fn requests(&self, path: &str) -> Vec<Received> {
        lock(&self.state)
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// What `path` accepted (2xx), de-duplicated by `webhook-id` as a receiver would.
    pub fn accepted(&self, path: &str) -> Vec<Received> {
        let mut seen = std::collections::HashSet::new();
        self.requests(path)
            .into_iter()
            .filter(|r| r.answered == 200 && seen.insert(r.id.clone()))
            .collect()
    }

    /// Waits until `path` accepted `n` distinct messages.
    pub async fn wait_for(&self, path: &str, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.accepted(path);
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path}: {} of {n} accepted; requests: {:?}",
                got.len(),
                self.requests(path)
                    .iter()
                    .map(|r| (r.seq(), r.answered))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}
