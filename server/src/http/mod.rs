//! HTTP: parses, calls the store, responds. Every route is in [`configure`].

pub mod auth;
pub mod body;
pub mod error;
pub mod idempotency;
pub mod lenient;
pub mod routes;
pub mod v1;

use std::sync::Arc;

use actix_web::{
    Error, HttpRequest, HttpResponse,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::Uri,
    middleware::{Next, from_fn},
    web,
};

use crate::{config::Settings, public::Public, store::Store};
use error::ApiError;

/// Cheap handles shared by every request.
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub ops: Vec<routes::Op>,
    pub public: std::sync::Arc<Public>,
}

impl AppState {
    /// Called after a change: rebuilds the public snapshot before the admin request
    /// answers, so the next public request sees the change.
    pub async fn changed(&self) {
        self.public.refresh(&self.store).await;
    }

    /// Like [`changed`](Self::changed) for a change whose last event is `seq`: when a
    /// rebuild that already includes it has happened meanwhile (concurrent writers),
    /// nothing more is done.
    pub async fn changed_up_to(&self, seq: Option<i64>) {
        if let Some(seq) = seq {
            self.public.refresh_to(&self.store, seq).await;
        }
    }
}

/// Every route of the server.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/openapi.json", web::get().to(openapi))
        .service(
            web::scope("/v1")
                .app_data(web::PayloadConfig::new(body::LIMIT))
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()),
                )
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()),
                )
                .configure(|cfg| v1::table().mount(cfg))
                .default_service(web::to(no_such_route))
                .wrap(from_fn(idempotency::replay_or_run))
                .wrap(from_fn(auth::authorize))
                // Admin requests are logged (path only: `?api_key=` carries a secret);
                // public traffic is what a CDN in front logs.
                .wrap(
                    actix_web::middleware::Logger::new("%m %U %s %Dms").log_target("herald::admin"),
                ),
        )
        .configure(crate::public::configure);
}

async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(routes::openapi(&state.ops, env!("CARGO_PKG_VERSION")))
}

async fn no_such_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route {} {}",
        req.method(),
        req.path()
    )))
}

/// Statuspage clients may add `.json` to any manage API path; it is dropped before
/// routing so that every route answers with or without it.
pub async fn strip_json_suffix(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let path = req.path();
    if path.starts_with("/v1/") && path.ends_with(".json") && path != "/v1/openapi.json" {
        let trimmed = &path[..path.len() - ".json".len()];
        let pq = match req.query_string() {
            "" => trimmed.to_owned(),
            q => format!("{trimmed}?{q}"),
        };
        if let Ok(uri) = pq.parse::<Uri>() {
            req.head_mut().uri = uri.clone();
            req.match_info_mut().get_mut().update(&uri);
        }
    }
    next.call(req).await
}
