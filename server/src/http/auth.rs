//! The admin API's one gate: every `/v1` request but the OpenAPI document must carry a
//! live key (`Authorization: OAuth <key>`, `Bearer <key>` or `?api_key=`), and the key's
//! role must reach the role the route table gives the operation.

use actix_web::{
    Error, FromRequest, HttpMessage, HttpRequest,
    body::{EitherBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use futures_util::future::{Ready, ready};

use super::{Api, access::ClientAddr, error::ApiError, routes};
use crate::app::AppState;
use crate::domain::Role;
use crate::store::{Actor, tokens};

fn presented_key(req: &ServiceRequest) -> Option<String> {
    if let Some(h) = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, key) = h.trim().split_once(' ')?;
        if scheme.eq_ignore_ascii_case("oauth") || scheme.eq_ignore_ascii_case("bearer") {
            return Some(key.trim().to_owned());
        }
        return None;
    }
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "api_key")
        .map(|(_, v)| v.into_owned())
}

/// Errors become responses here, so the access log (outside) sees their status.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if req.path() == "/v1/openapi.json" {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    match admit(&req).await {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(e) => Ok(req.error_response(e).map_into_right_body()),
    }
}

/// Admits the request if its key is live and its role reaches the operation's. The
/// key's holder is put on the request as soon as it is known, so the access log names
/// the token even on a refusal.
async fn admit(req: &ServiceRequest) -> Result<(), ApiError> {
    let (Some(state), Some(api)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.app_data::<web::Data<Api>>().cloned(),
    ) else {
        return Err(ApiError::Internal("application state missing".into()));
    };
    let key = presented_key(req).ok_or(ApiError::Unauthorized)?;
    let token = tokens::authenticate(state.store.db(), &key, state.clock.now())
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let client = req
        .extensions()
        .get::<ClientAddr>()
        .and_then(|c| c.0)
        .map(|ip| ip.to_string());
    req.extensions_mut().insert(Actor {
        token_id: Some(token.id.clone()),
        name: token.name.clone(),
        role: token.role,
        client,
    });
    // Match on the path exactly as the router will see it (percent-decoded), and fail
    // closed: a request that matches no operation needs an admin key, so no spelling of
    // a path can reach a handler with less than the role the route table gives it.
    let path = req.match_info().as_str().to_owned();
    if let Some(page_id) = path
        .strip_prefix("/v1/pages/")
        .map(|rest| rest.split('/').next().unwrap_or(""))
        && page_id != state.store.page_id().as_str()
    {
        return Err(ApiError::NotFound(format!(
            "page '{page_id}' was not found"
        )));
    }
    let need = routes::find(&api.ops, req.method(), &path).map_or(Role::Admin, |op| op.role);
    if token.role < need {
        return Err(ApiError::Forbidden {
            have: token.role.as_str(),
            need: need.as_str(),
        });
    }
    Ok(())
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Ready<Result<Actor, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<Actor>()
                .cloned()
                .ok_or(ApiError::Unauthorized),
        )
    }
}
