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
    .route("/maintenance.ics", web::route().to(calendar))
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

/// `/maintenance.ics`: the page's calendar (from the snapshot), or with `?tenant=...`
/// one tenant's, listing only the maintenance that touches its components.
async fn calendar(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let param =
        web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("tenant").cloned());
    let Some(param) = param else {
        return serve(req, state).await;
    };
    if let Some(r) = only_get(&req) {
        return r;
    }
    match tenant_calendar(&state, &param).await {
        Ok(Some(body)) => HttpResponse::Ok()
            .content_type("text/calendar; charset=utf-8")
            .insert_header(("Cache-Control", "private, max-age=60"))
            .body(body),
        Ok(None) => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("There is no calendar at this address: the link may be mistyped or no longer valid."),
        Err(e) => {
            tracing::error!(error = %e, "a tenant's calendar");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .insert_header(("Retry-After", "5"))
                .body("The calendar cannot be read just now; try again shortly.")
        }
    }
}

/// The calendar of the tenant `param` names, if the link is one Herald made.
async fn tenant_calendar(
    state: &AppState,
    param: &str,
) -> Result<Option<String>, crate::store::StoreError> {
    use crate::store::{StoreError, components, incidents, pages, tenants};
    if param.len() > 200 {
        return Ok(None);
    }
    let Some(id) = state.notifier.links().check_calendar(param) else {
        return Ok(None);
    };
    let db = state.store.db();
    let tenant = match tenants::get(db, &crate::domain::TenantId::from(id)).await {
        Ok(t) => t,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let page = pages::get(db, state.store.page_id()).await?;
    let comps = components::list(db, state.store.page_id()).await?;
    let group_of = |c: &crate::domain::ComponentId| {
        comps
            .iter()
            .find(|x| &x.id == c)
            .and_then(|x| x.group_id.as_ref())
    };
    let list = incidents::list(
        db,
        state.store.page_id(),
        incidents::Filter::Maintenances,
        None,
        200,
        0,
    )
    .await?;
    let now = state.clock.now();
    let mine = list.iter().filter(|m| m.plan.published(now)).filter(|m| {
        let affected: Vec<crate::domain::ComponentId> =
            m.components.iter().map(|(c, _)| c.clone()).collect();
        crate::domain::notify::concerns(&tenant.runs_on, &affected, group_of)
    });
    let ctx = crate::render::statuspage::PageCtx::new(&page);
    Ok(Some(crate::render::ics::maintenance_calendar(
        &format!("{} maintenance for {}", page.name, tenant.name),
        &ctx,
        &state.snapshots.markdown(),
        mine,
    )))
}
