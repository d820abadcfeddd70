//! Who is asking, and whether they may: the session cookie, the CSRF token every form
//! carries, the Origin (or Referer) of every POST, the role each route needs, and the
//! pace of sign-in attempts. A request that fails any of these gets a clear page and
//! changes nothing.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{
    FromRequest, HttpRequest, HttpResponse,
    dev::Payload,
    error::InternalError,
    http::{Method, StatusCode},
    web,
};
use futures_util::future::LocalBoxFuture;
use governor::{
    Quota, RateLimiter, middleware::NoOpMiddleware, state::keyed::DefaultKeyedStateStore,
};
use serde_json::Value;

use super::{pages, routes};
use crate::app::AppState;
use crate::domain::Role;
use crate::http::{access::client_of, auth::Ticks};
use crate::store::{Actor, sessions, users::User};

pub const SESSION_COOKIE: &str = "herald_session";
/// The sign-in forms' CSRF token, before there is a session (double submit).
pub const FORM_COOKIE: &str = "herald_csrf";

/// A cookie's value from the request. Cookies are read one by one, so a malformed
/// cookie set by another application on the same host does not hide the console's.
pub fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| Cookie::parse(c.trim()).ok())
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A `Set-Cookie` value for the console: `HttpOnly`, `Path` the console's, `Secure`
/// when the page is served over https. `max_age` 0 removes it.
pub fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    same_site: SameSite,
    max_age: Option<i64>,
) -> String {
    let mut c = Cookie::build(name.to_owned(), value.to_owned())
        .path(format!("{}/admin", state.base))
        .http_only(true)
        .same_site(same_site)
        .secure(page_url(state).starts_with("https://"));
    if let Some(a) = max_age {
        c = c.max_age(actix_web::cookie::time::Duration::seconds(a));
    }
    c.finish().to_string()
}

/// The page's public URL, without a trailing slash.
pub fn page_url(state: &AppState) -> String {
    state
        .snapshots
        .current()
        .map(|s| s.data.ctx.url.clone())
        .or_else(|| state.settings.public_url.clone())
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned()
}

/// Whether a POST comes from the console's own pages: its `Origin` (or, without one,
/// its `Referer`) is the page's public origin or the host it was sent to.
pub fn same_origin(req: &HttpRequest, state: &AppState) -> bool {
    let header = |n| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let Some(from) = header(actix_web::http::header::ORIGIN)
        .or_else(|| header(actix_web::http::header::REFERER))
        .and_then(|v| url::Url::parse(&v).ok())
    else {
        return false;
    };
    let origin = from.origin();
    if !origin.is_tuple() {
        return false;
    }
    let public = url::Url::parse(&page_url(state)).map(|u| u.origin());
    if public.is_ok_and(|p| p == origin) {
        return true;
    }
    let host = match from.port() {
        Some(p) => format!("{}:{p}", from.host_str().unwrap_or_default()),
        None => from.host_str().unwrap_or_default().to_owned(),
    };
    req.headers()
        .get(actix_web::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case(&host))
}

/// Compares secrets in time that does not depend on where they differ (an empty one
/// never matches).
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The person making a request, from their live session.
#[derive(Debug, Clone)]
pub struct Signed {
    pub user: User,
    pub csrf: String,
    pub actor: Actor,
    /// The session id the cookie carries.
    pub sid: String,
}

impl Signed {
    pub fn can_write(&self) -> bool {
        self.user.role >= Role::Responder
    }

    pub fn is_admin(&self) -> bool {
        self.user.role >= Role::Admin
    }
}

fn refuse(res: HttpResponse) -> actix_web::Error {
    InternalError::from_response("refused", res).into()
}

/// Where a request without a live session is sent.
fn to_sign_in(state: &AppState, req: &HttpRequest, expired: bool) -> HttpResponse {
    let next = if req.method() == Method::GET {
        req.uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if !next.is_empty() {
        q.append_pair("next", &next);
    }
    if expired {
        q.append_pair("expired", "1");
    }
    let q = q.finish();
    let mut res = pages::see_other(format!(
        "{}/admin/signin{}{q}",
        state.base,
        if q.is_empty() { "" } else { "?" }
    ));
    // A dead session's cookie goes.
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&set_cookie(
        state,
        SESSION_COOKIE,
        "",
        SameSite::Lax,
        Some(0),
    )) {
        res.headers_mut()
            .insert(actix_web::http::header::SET_COOKIE, v);
    }
    res
}

/// The live session of a request, or the answer to give instead.
async fn signed(req: &HttpRequest, state: &AppState) -> Result<Signed, HttpResponse> {
    let Some(sid) = cookie(req, SESSION_COOKIE) else {
        return Err(to_sign_in(state, req, false));
    };
    let found = sessions::find(state.store.db(), &sid, state.clock.now()).await;
    let session = match found {
        Ok(Some(s)) => s,
        Ok(None) => return Err(to_sign_in(state, req, true)),
        Err(e) => {
            tracing::error!(error = %e, "reading a console session");
            return Err(pages::unavailable(state));
        }
    };
    let actor = Actor {
        token_id: None,
        name: session.user.actor_name(),
        role: session.user.role,
        client: client_of(req).map(|c| c.to_string()),
    };
    Ok(Signed {
        user: session.user,
        csrf: session.csrf,
        actor,
        sid,
    })
}

/// The refusal to give when the person's role does not reach the route's.
fn role_refusal(req: &HttpRequest, state: &AppState, s: &Signed) -> Option<HttpResponse> {
    let need = routes::role_of(req.method(), req.match_pattern().as_deref());
    (s.user.role < need).then(|| pages::forbidden_role(state, s, need))
}

/// A page (GET) for a signed-in person whose role reaches the route's.
pub struct Viewing(pub Signed);

impl FromRequest for Viewing {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            let s = signed(&req, &state).await.map_err(refuse)?;
            if let Some(no) = role_refusal(&req, &state, &s) {
                return Err(refuse(no));
            }
            Ok(Viewing(s))
        })
    }
}

/// A form posted from the console by a signed-in person whose role reaches the
/// route's, with its CSRF token checked: its fields.
pub struct Posted {
    pub who: Signed,
    pub form: Form,
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, actix_web::Error> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| actix_web::error::ErrorInternalServerError("application state missing"))
}

/// Reads and parses a form body within the body limit; the answer to give if it cannot.
async fn read_form(
    req: &HttpRequest,
    state: &AppState,
    payload: &mut Payload,
) -> Result<Form, HttpResponse> {
    let bytes = web::Bytes::from_request(req, payload).await.map_err(|_| {
        pages::problem(
            state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "That form was too large",
            "Nothing was changed. Shorten the text and send it again.",
        )
    })?;
    crate::http::body::parse_form(&bytes)
        .map(Form)
        .map_err(|e| {
            pages::problem(
                state,
                StatusCode::BAD_REQUEST,
                "That form could not be read",
                &format!("Nothing was changed: {e}"),
            )
        })
}

impl FromRequest for Posted {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = state_of(&req)?;
            if !same_origin(&req, &state) {
                return Err(refuse(pages::cross_origin(&state)));
            }
            let who = signed(&req, &state).await.map_err(refuse)?;
            let form = read_form(&req, &state, &mut payload)
                .await
                .map_err(refuse)?;
            if !same_secret(form.str("csrf"), &who.csrf) {
                return Err(refuse(pages::bad_csrf(&state)));
            }
            if let Some(no) = role_refusal(&req, &state, &who) {
                return Err(refuse(no));
            }
            Ok(Posted { who, form })
        })
    }
}

/// A sign-in, welcome or reset form: posted from the console's origin with the CSRF
/// token its page set as a cookie.
pub struct AnonPosted {
    pub form: Form,
}

impl FromRequest for AnonPosted {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = state_of(&req)?;
            if !same_origin(&req, &state) {
                return Err(refuse(pages::cross_origin(&state)));
            }
            let form = read_form(&req, &state, &mut payload)
                .await
                .map_err(refuse)?;
            let token = cookie(&req, FORM_COOKIE).unwrap_or_default();
            if !same_secret(form.str("csrf"), &token) {
                return Err(refuse(pages::bad_csrf(&state)));
            }
            Ok(AnonPosted { form })
        })
    }
}

/// A parsed form (`a[b]=c` nests, `a[]=x` lists).
#[derive(Debug, Default)]
pub struct Form(pub Value);

impl Form {
    /// A field's text; empty when absent or not text.
    pub fn str(&self, key: &str) -> &str {
        self.0.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    /// A field's text, trimmed; `None` when absent or blank.
    pub fn text(&self, key: &str) -> Option<String> {
        Some(self.str(key).trim().to_owned()).filter(|s| !s.is_empty())
    }

    /// A list field (`key[]`), or a single value as a list of one.
    pub fn list(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    /// A map field (`key[name]=value`).
    pub fn map(&self, key: &str) -> Vec<(String, String)> {
        match self.0.get(key) {
            Some(Value::Object(o)) => o
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A checkbox: ticked when present with any value but `false`.
    pub fn ticked(&self, key: &str) -> bool {
        self.0
            .get(key)
            .is_some_and(|v| v.as_str().is_none_or(|s| s != "false" && s != "0"))
    }
}

type Limiter<K> = RateLimiter<K, DefaultKeyedStateStore<K>, Ticks, NoOpMiddleware<Duration>>;

/// Keys remembered before old ones are dropped.
const MAX_KEYS: usize = 100_000;

/// The pace of sign-in, reset and welcome attempts: per client address 20 at once then
/// one every 3 s; per address 5 at once then one every 3 minutes. On the injected
/// clock, so tests move it.
pub struct Limits {
    by_client: Limiter<IpAddr>,
    by_email: Limiter<String>,
}

impl Limits {
    pub fn new(clock: crate::clock::Clock) -> Limits {
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        let ticks = Ticks(clock);
        let quota = |every: u64, burst: u32| {
            Quota::with_period(Duration::from_secs(every))
                .map_or_else(|| Quota::per_minute(n(burst)), |q| q.allow_burst(n(burst)))
        };
        Limits {
            by_client: RateLimiter::new(
                quota(3, 20),
                DefaultKeyedStateStore::default(),
                ticks.clone(),
            ),
            by_email: RateLimiter::new(quota(180, 5), DefaultKeyedStateStore::default(), ticks),
        }
    }

    /// Counts an attempt; false once the client or the address has used its allowance.
    pub fn allow(&self, client: Option<IpAddr>, email: &str) -> bool {
        if self.by_client.len() > MAX_KEYS {
            self.by_client.retain_recent();
        }
        if self.by_email.len() > MAX_KEYS {
            self.by_email.retain_recent();
        }
        let client_ok = client.is_none_or(|ip| self.by_client.check_key(&ip).is_ok());
        let email_ok = self
            .by_email
            .check_key(&email.trim().to_lowercase())
            .is_ok();
        client_ok && email_ok
    }
}
