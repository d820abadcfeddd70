//! The public side's routes: status page, Statuspage public API v2, feeds, static files
//! and probes, all answered from the in-memory snapshot, never per request.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::{app::AppState, snapshot};

pub mod subscribe;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(healthz))
            .route(web::head().to(healthz)),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(readyz))
            .route(web::head().to(readyz)),
    )
    .service(
        web::resource("/readyz/admin")
            .route(web::get().to(readyz_admin))
            .route(web::head().to(readyz_admin)),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(metrics))
            .route(web::head().to(metrics)),
    )
    .configure(subscribe::configure)
    .route("/incidents/{id}", web::route().to(incident_page))
    .route("/history", web::route().to(history_page))
    .default_service(web::route().to(serve));
}

/// The Prometheus exposition (see `crate::metrics`).
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.refresh(&state.store, state.clock.now()).await;
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.encode())
}

/// Liveness: the process answers.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .content_type("text/plain")
        .body("ok")
}

fn probe(ready: bool, body: serde_json::Value) -> HttpResponse {
    let mut res = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header(("Cache-Control", "no-store")).json(body)
}

/// Readiness of the public side, the probe for a load balancer: ready while a snapshot
/// is being served and Herald is not draining. A database outage does not make it
/// unready (the page is served from memory, and that is when it is needed most); it
/// shows in the body and in `/readyz/admin`. Answers within about a second.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let snap = state.snapshots.current();
    let database = state.database_reachable().await;
    let stuck = state.delivery_stuck();
    let status = match (&snap, state.is_draining()) {
        (_, true) => "draining",
        (None, _) => "starting",
        (Some(_), false) if stuck => "delivery workers stuck",
        (Some(_), false) => "ready",
    };
    let failure = state.snapshots.failure();
    probe(
        status == "ready",
        serde_json::json!({
            "status": status,
            "database": if database { "reachable" } else { "unreachable" },
            "snapshot_version": snap.as_ref().map(|s| s.version),
            "snapshot_built_at": snap.as_ref().map(|s| s.built_at.to_rfc3339()),
            // Rebuilds failing (the previous snapshot is served) and documents that
            // could not be rendered (served as error pages).
            "rebuild_failing": failure.as_ref().map(|f| serde_json::json!({
                "error": f.error,
                "for_seconds": f.since.elapsed().as_secs(),
                "attempts": f.attempts,
            })),
            "problems": snap.as_ref().map(|s| s.problems.clone()).unwrap_or_default(),
            "delivery": {
                "stuck": stuck,
                "last_pass_seconds_ago": state.notifier.stalled_for(),
            },
        }),
    )
}

/// Readiness of the admin side: writes need the database.
async fn readyz_admin(state: web::Data<AppState>) -> HttpResponse {
    let database = state.database_reachable().await;
    let draining = state.is_draining();
    let status = match (draining, database) {
        (true, _) => "draining",
        (false, false) => "database unreachable",
        (false, true) if state.delivery_stuck() => "delivery workers stuck",
        (false, true) => "ready",
    };
    probe(
        status == "ready",
        serde_json::json!({
            "status": status,
            "database": if database { "reachable" } else { "unreachable" },
        }),
    )
}

fn only_get(req: &HttpRequest) -> Option<HttpResponse> {
    use actix_web::http::Method;
    (req.method() != Method::GET && req.method() != Method::HEAD).then(|| {
        HttpResponse::MethodNotAllowed()
            .insert_header(("Allow", "GET, HEAD"))
            .content_type("text/plain")
            .body("The status page is read-only.")
    })
}

fn starting() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", "1"))
        .content_type("text/html; charset=utf-8")
        .body(snapshot::FALLBACK_500)
}

fn not_found(state: &AppState, snap: &snapshot::Snapshot) -> HttpResponse {
    match state.snapshots.not_found(snap) {
        Some(a) => HttpResponse::NotFound()
            .content_type(a.content_type)
            .body(a.identity.clone()),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Every public path that is a fixed document.
async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(r) = only_get(&req) {
        return r;
    }
    if let Some(a) = state.snapshots.static_asset(req.path()) {
        return a.respond(&req);
    }
    let Some(snap) = state.snapshots.current() else {
        return starting();
    };
    let path = req.path();
    let key = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    match snap.assets.get(key) {
        Some(a) if key != "404" => a.respond(&req),
        _ => not_found(&state, &snap),
    }
}

async fn incident_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    if let Some(r) = only_get(&req) {
        return r;
    }
    let Some(snap) = state.snapshots.current() else {
        return starting();
    };
    match state
        .snapshots
        .incident_page(&state.store, &snap, &id)
        .await
    {
        Ok(Some(a)) => a.respond(&req),
        Ok(None) => not_found(&state, &snap),
        Err(e) => {
            tracing::error!(error = %e, "incident page");
            starting()
        }
    }
}

async fn history_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(r) = only_get(&req) {
        return r;
    }
    let Some(snap) = state.snapshots.current() else {
        return starting();
    };
    let page = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(1);
    match state
        .snapshots
        .history_page(&state.store, &snap, page)
        .await
    {
        Ok(Some(a)) => a.respond(&req),
        Ok(None) => not_found(&state, &snap),
        Err(e) => {
            tracing::error!(error = %e, "history page");
            starting()
        }
    }
}
