//! The public side's routes: status page, Statuspage public API v2, feeds, static files
//! and probes, all answered from the in-memory snapshot, never per request.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::{app::AppState, snapshot};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/incidents/{id}", web::route().to(incident_page))
        .route("/history", web::route().to(history_page))
        .default_service(web::route().to(serve));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match (state.store.ping().await, state.snapshots.current()) {
        (Ok(()), Some(_)) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        (Err(e), _) => {
            tracing::warn!(error = %e, "not ready: database");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unreachable")
        }
        (_, None) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("starting"),
    }
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
        .unwrap_or(1)
        .clamp(1, 10_000);
    match state
        .snapshots
        .history_page(&state.store, &snap, page)
        .await
    {
        Ok(a) => a.respond(&req),
        Err(e) => {
            tracing::error!(error = %e, "history page");
            starting()
        }
    }
}
