//! The admin API: parses, calls the store, responds. Every route is in [`v1::table`].

pub mod access;
pub mod auth;
pub mod body;
pub mod error;
pub mod idempotency;
pub mod lenient;
pub mod routes;
pub mod security;
pub mod v1;

use actix_web::{
    Error, HttpRequest, HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::Uri,
    middleware::{Next, from_fn},
    web,
};

use error::ApiError;

/// The admin operations, as the role gate and the OpenAPI document see them.
pub struct Api {
    pub ops: Vec<routes::Op>,
}

impl Api {
    pub fn new() -> Api {
        Api {
            ops: v1::table().into_ops(),
        }
    }
}

impl Default for Api {
    fn default() -> Self {
        Api::new()
    }
}

/// Mounts `/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/openapi.json", web::get().to(openapi))
        .service(
            web::scope("/v1")
                .app_data(web::PayloadConfig::new(body::LIMIT))
                .app_data(
                    web::QueryConfig::default().error_handler(|e, _| {
                        ApiError::BadRequest(body::plain(&e.to_string())).into()
                    }),
                )
                .app_data(
                    web::PathConfig::default().error_handler(|e, _| {
                        ApiError::BadRequest(body::plain(&e.to_string())).into()
                    }),
                )
                .configure(|cfg| v1::table().mount(cfg))
                .default_service(web::to(no_such_route))
                .wrap(from_fn(body::report_ignored))
                .wrap(from_fn(idempotency::replay_or_run))
                .wrap(from_fn(auth::authorize))
                .wrap(security::no_store()),
        );
}

async fn openapi(api: web::Data<Api>) -> HttpResponse {
    HttpResponse::Ok().json(routes::openapi(&api.ops, env!("CARGO_PKG_VERSION")))
}

async fn no_such_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route {} {}",
        req.method(),
        req.path()
    )))
}

/// Every route lives under the base path of the public URL (`/status`): it is taken
/// off before routing, and anything outside it is not Herald's.
pub async fn strip_base(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let base = req
        .app_data::<web::Data<crate::app::AppState>>()
        .map(|s| s.base.clone())
        .unwrap_or_default();
    if base.is_empty() {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let rest = match req.path().strip_prefix(base.as_str()) {
        Some("") => "/".to_owned(),
        Some(r) if r.starts_with('/') => r.to_owned(),
        _ => {
            let res = HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body(format!("Not found. This status page lives under {base}/"));
            return Ok(req.into_response(res).map_into_right_body());
        }
    };
    let pq = match req.query_string() {
        "" => rest,
        q => format!("{rest}?{q}"),
    };
    if let Ok(uri) = pq.parse::<Uri>() {
        req.head_mut().uri = uri.clone();
        req.match_info_mut().get_mut().update(&uri);
    }
    Ok(next.call(req).await?.map_into_left_body())
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
