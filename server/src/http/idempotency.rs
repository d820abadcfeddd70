//! `Idempotency-Key` on admin POSTs: the same key and body within 24 hours answers with
//! the first result instead of doing the work again.

use actix_web::{
    Error, HttpMessage, HttpResponse,
    body::{self, BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::{Method, StatusCode},
    middleware::Next,
    web::{self, Bytes, BytesMut},
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::{Api, error::ApiError, routes};
use crate::app::AppState;
use crate::store::{
    Actor,
    idempotency::{self, Claim},
};

pub async fn replay_or_run(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let actor = req.extensions().get::<Actor>().cloned();
    let (Some(state), Some(api)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.app_data::<web::Data<Api>>().cloned(),
    ) else {
        return Err(ApiError::Internal("application state missing".into()).into());
    };
    // Decided by the operation the router will run (the decoded path), not by the path
    // as spelled: a created token's key must never be stored, however it is written.
    let route = req.match_info().as_str().to_owned();
    let replayable = req.method() == Method::POST
        && routes::find(&api.ops, req.method(), &route).is_some_and(|op| op.replayable);
    let (Some(key), Some(actor), true) = (key, actor, replayable) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if key.is_empty() || key.len() > 255 {
        return Err(
            ApiError::invalid("Idempotency-Key", "the key must be 1 to 255 characters").into(),
        );
    }
    let mut payload = req.take_payload();
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        buf.extend_from_slice(&chunk?);
        if buf.len() > (1 << 20) {
            return Err(ApiError::TooLarge("1 MiB").into());
        }
    }
    let bytes: Bytes = buf.freeze();
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let token_id = actor
        .token_id
        .as_ref()
        .map(|t| t.as_str().to_owned())
        .unwrap_or_default();
    let db = state.store.db();
    match idempotency::claim(db, &token_id, &key, &hash, state.clock.now())
        .await
        .map_err(ApiError::from)?
    {
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let res = HttpResponse::build(status)
                .content_type("application/json")
                .insert_header(("Idempotent-Replayed", "true"))
                .body(body);
            Ok(req.into_response(res))
        }
        Claim::InFlight => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed".into(),
        )
        .into()),
        Claim::Mismatch => Err(ApiError::Invalid {
            code: "idempotency_key_reused",
            field: Some("Idempotency-Key".into()),
            message: "this Idempotency-Key was used with a different request body".into(),
        }
        .into()),
        Claim::New => {
            req.set_payload(Payload::from(bytes));
            let res = next.call(req).await;
            let res = match res {
                Ok(res) => res,
                Err(e) => {
                    let _ = idempotency::release(db, &token_id, &key).await;
                    return Err(e);
                }
            };
            let (req, res) = res.into_parts();
            let status = res.status();
            let (head, body) = res.into_parts();
            let bytes = body::to_bytes(body)
                .await
                .map_err(|_| ApiError::Internal("could not buffer the response".into()))?;
            if status.is_success() {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                idempotency::finish(db, &token_id, &key, status.as_u16(), text)
                    .await
                    .map_err(ApiError::from)?;
            } else {
                idempotency::release(db, &token_id, &key)
                    .await
                    .map_err(ApiError::from)?;
            }
            Ok(ServiceResponse::new(
                req,
                head.set_body(bytes).map_into_boxed_body(),
            ))
        }
    }
}
