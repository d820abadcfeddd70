//! The admin API's one gate: every `/v1` request but the OpenAPI document must carry a
//! live key (`Authorization: OAuth <key>`, `Bearer <key>` or `?api_key=`), and the key's
//! role must reach the role the route table gives the operation. A client that fails
//! to authenticate too often is told to wait (429 with `Retry-After`), whatever key it
//! presents next; other clients are not slowed.

use std::{collections::HashMap, net::IpAddr, num::NonZeroU32, sync::Mutex, time::Duration};

use governor::{
    Quota, RateLimiter, clock::Clock as _, middleware::NoOpMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

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
use crate::clock::Clock;
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

/// Clients remembered before the oldest are forgotten.
const MAX_CLIENTS: usize = 100_000;

/// Herald's clock as governor reads it (time since the epoch), so tests on a manual
/// clock move the throttle without sleeping.
#[derive(Clone, Debug)]
pub(crate) struct Ticks(pub(crate) Clock);

impl governor::clock::Clock for Ticks {
    type Instant = Duration;

    fn now(&self) -> Duration {
        (self.0.now() - chrono::DateTime::UNIX_EPOCH)
            .to_std()
            .unwrap_or_default()
    }
}

type Limiter = RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, Ticks, NoOpMiddleware<Duration>>;

/// Failed authentications (a key presented that is not live) per client address: the
/// settings' `auth_failure_limit` in a burst, then the allowance comes back at that many
/// a minute.
pub struct Throttle {
    /// None when the throttle is off.
    failures: Option<Limiter>,
    /// Clients that used up their failures, and until when they wait.
    blocked: Mutex<HashMap<IpAddr, Duration>>,
    clock: Ticks,
}

impl Throttle {
    pub fn new(clock: Clock, per_minute: u32) -> Throttle {
        let clock = Ticks(clock);
        let failures = NonZeroU32::new(per_minute).map(|n| {
            RateLimiter::new(
                Quota::per_minute(n),
                DefaultKeyedStateStore::default(),
                clock.clone(),
            )
        });
        Throttle {
            failures,
            blocked: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// How long `ip` must still wait, if it must.
    fn waiting(&self, ip: IpAddr) -> Option<Duration> {
        let now = self.clock.now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        match blocked.get(&ip) {
            Some(until) if *until > now => Some(*until - now),
            Some(_) => {
                blocked.remove(&ip);
                None
            }
            None => None,
        }
    }

    /// Counts a failure of `ip`; once its allowance is spent, how long it waits.
    fn failed(&self, ip: IpAddr) -> Option<Duration> {
        let failures = self.failures.as_ref()?;
        if failures.len() > MAX_CLIENTS {
            failures.retain_recent();
        }
        let now = self.clock.now();
        let wait: Duration = failures.check_key(&ip).err()?.wait_time_from(now);
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        if blocked.len() > MAX_CLIENTS {
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(ip, now + wait);
        Some(wait)
    }
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
    let ip = req.extensions().get::<ClientAddr>().and_then(|c| c.0);
    if let Some(wait) = ip.and_then(|ip| state.auth_throttle.waiting(ip)) {
        return Err(ApiError::TooManyRequests {
            message:
                "too many failed authentications from this address; wait and retry with a valid key"
                    .into(),
            retry_after: wait.as_secs().max(1),
        });
    }
    let key = presented_key(req).ok_or(ApiError::Unauthorized)?;
    let token = tokens::authenticate(state.store.db(), &key, state.clock.now()).await?;
    let Some(token) = token else {
        // A key that is not live counts as a guess; no key at all does not.
        if let Some(wait) = ip.and_then(|ip| state.auth_throttle.failed(ip)) {
            return Err(ApiError::TooManyRequests {
                message: "too many failed authentications from this address; wait and retry with a valid key".into(),
                retry_after: wait.as_secs().max(1),
            });
        }
        return Err(ApiError::Unauthorized);
    };
    let client = ip.map(|ip| ip.to_string());
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
