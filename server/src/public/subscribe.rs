//! People subscribe themselves: `/subscribe` (a form), the confirmation link
//! (`/subscribe/confirm`, double opt-in), the manage page every mail links to
//! (`/subscription`) and one-click unsubscribe (`/unsubscribe`, RFC 8058). Plain HTML
//! forms that work without JavaScript. The form is paced per client and per address and
//! answers the same whatever the address's state, so it reveals no one's subscription.

use std::{net::IpAddr, num::NonZeroU32};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Serialize;

use crate::app::AppState;
use crate::domain::{ComponentId, SubscriberId, SubscriberState};
use crate::http::{access::client_of, body::parse_form};
use crate::notify::links::Refused;
use crate::render::pages::{Data, Layout};
use crate::render::statuspage::ComponentIndex;
use crate::store::{Actor, StoreError, subscribers};

/// The largest form body read.
const MAX_FORM: usize = 64 * 1024;
/// Keys kept by each limiter before old ones are dropped.
const MAX_KEYS: usize = 100_000;

pub struct Limits {
    by_client: DefaultKeyedRateLimiter<IpAddr>,
    by_address: DefaultKeyedRateLimiter<String>,
}

impl Limits {
    pub fn new() -> Limits {
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        Limits {
            // Ten a minute from one client; three an hour to one address.
            by_client: RateLimiter::keyed(Quota::per_minute(n(10))),
            by_address: RateLimiter::keyed(
                Quota::with_period(std::time::Duration::from_secs(20 * 60))
                    .map_or_else(|| Quota::per_hour(n(3)), |q| q.allow_burst(n(3))),
            ),
        }
    }

    fn allow(&self, client: Option<IpAddr>, address: &str) -> bool {
        if self.by_client.len() > MAX_KEYS {
            self.by_client.retain_recent();
        }
        if self.by_address.len() > MAX_KEYS {
            self.by_address.retain_recent();
        }
        let client_ok = client.is_none_or(|ip| self.by_client.check_key(&ip).is_ok());
        client_ok
            && self
                .by_address
                .check_key(&address.trim().to_lowercase())
                .is_ok()
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}

/// The people's pages are rendered per request (their forms and links differ), so they
/// are compressed as they go out, like the snapshot's pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use actix_web::middleware::Compress;
    cfg.service(
        web::resource("/subscribe")
            .wrap(Compress::default())
            .route(web::get().to(form))
            .route(web::post().to(submit)),
    )
    .service(
        web::resource("/subscribe/confirm")
            .wrap(Compress::default())
            .route(web::get().to(confirm_page))
            .route(web::post().to(confirm)),
    )
    .service(
        web::resource("/subscription")
            .wrap(Compress::default())
            .route(web::get().to(manage_page))
            .route(web::post().to(manage)),
    )
    .service(
        web::resource("/unsubscribe")
            .wrap(Compress::default())
            .route(web::get().to(unsubscribe_page))
            .route(web::post().to(unsubscribe)),
    );
}

#[derive(Serialize)]
struct Choice {
    id: String,
    name: String,
    checked: bool,
    children: Vec<Choice>,
}

fn choices(data: &Data, checked: &[ComponentId]) -> Vec<Choice> {
    let index = ComponentIndex::new(&data.components);
    let is = |id: &ComponentId| checked.contains(id);
    data.components
        .iter()
        .filter(|c| c.group_id.is_none())
        .map(|c| Choice {
            id: c.id.to_string(),
            name: c.name.clone(),
            checked: is(&c.id),
            children: index
                .children(&c.id)
                .iter()
                .map(|m| Choice {
                    id: m.id.to_string(),
                    name: m.name.clone(),
                    checked: is(&m.id),
                    children: Vec::new(),
                })
                .collect(),
        })
        .collect()
}

#[derive(Serialize)]
struct FormView {
    layout: Layout,
    email: String,
    error: Option<String>,
    components: Vec<Choice>,
}

#[derive(Serialize)]
struct Field {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Action {
    url: String,
    label: &'static str,
    fields: Vec<Field>,
}

#[derive(Serialize)]
struct MessageView {
    layout: Layout,
    heading: String,
    message: String,
    action: Option<Action>,
}

#[derive(Serialize)]
struct ManageView {
    layout: Layout,
    email: String,
    s: String,
    t: String,
    notice: Option<&'static str>,
    components: Vec<Choice>,
}

fn html(status: StatusCode, body: Option<String>) -> HttpResponse {
    match body {
        Some(b) => HttpResponse::build(status)
            .insert_header(("Cache-Control", "no-store"))
            .content_type("text/html; charset=utf-8")
            .body(b),
        None => HttpResponse::ServiceUnavailable()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Retry-After", "5"))
            .content_type("text/plain; charset=utf-8")
            .body("The status page is starting; try again in a moment."),
    }
}

fn message(
    state: &AppState,
    status: StatusCode,
    heading: &str,
    text: &str,
    action: Option<Action>,
) -> HttpResponse {
    let body = state
        .snapshots
        .dynamic_page("pages/message", heading, "/subscribe", |layout, _| {
            MessageView {
                layout,
                heading: heading.to_owned(),
                message: text.to_owned(),
                action,
            }
        });
    html(status, body)
}

fn broken_link(state: &AppState) -> HttpResponse {
    message(
        state,
        StatusCode::BAD_REQUEST,
        "This link does not work",
        "It may have been mistyped, cut short by your mail program, or replaced by a newer one. Subscribe again from the status page, or use the link in your latest mail.",
        None,
    )
}

fn form_page(
    state: &AppState,
    status: StatusCode,
    email: &str,
    error: Option<String>,
    checked: &[ComponentId],
) -> HttpResponse {
    let body = state.snapshots.dynamic_page(
        "pages/subscribe",
        "Subscribe",
        "/subscribe",
        |layout, data| FormView {
            layout,
            email: email.to_owned(),
            error,
            components: choices(data, checked),
        },
    );
    html(status, body)
}

async fn form(state: web::Data<AppState>) -> HttpResponse {
    form_page(&state, StatusCode::OK, "", None, &[])
}

/// The form's fields: `email`, `components[]`, and the link's `s`, `t`, `e`.
#[derive(Debug, Default)]
struct Posted {
    email: String,
    components: Vec<ComponentId>,
    s: String,
    t: String,
    e: String,
}

fn posted(body: &[u8], query: &str) -> Posted {
    let mut v = parse_form(body).unwrap_or_default();
    let q = parse_form(query.as_bytes()).unwrap_or_default();
    let get = |key: &str| {
        v.get(key)
            .or_else(|| q.get(key))
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let mut p = Posted {
        email: get("email"),
        s: get("s"),
        t: get("t"),
        e: get("e"),
        components: Vec::new(),
    };
    if let Some(list) = v.get_mut("components").and_then(|c| c.as_array_mut()) {
        p.components = list
            .iter()
            .filter_map(|c| c.as_str())
            .take(crate::store::subscribers::MAX_FOLLOWED)
            .map(ComponentId::from)
            .collect();
    }
    p
}

async fn read_body(payload: web::Payload) -> Option<Vec<u8>> {
    payload
        .to_bytes_limited(MAX_FORM)
        .await
        .ok()?
        .ok()
        .map(|b| b.to_vec())
}

fn public_actor(req: &HttpRequest) -> Actor {
    let mut a = Actor::system("public page");
    a.client = client_of(req).map(|c| c.to_string());
    a
}

async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let Some(body) = read_body(payload).await else {
        return form_page(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
            Some("That form was too large.".into()),
            &[],
        );
    };
    let p = posted(&body, "");
    if let Err(e) = crate::domain::notify::email("email", &p.email) {
        let msg = match e {
            crate::domain::DomainError::Invalid { message, .. } => message,
            other => other.to_string(),
        };
        return form_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &p.email,
            Some(format!("Please enter one email address: {msg}.")),
            &p.components,
        );
    }
    if !state.subscribe_limits.allow(client_of(&req), &p.email) {
        let mut res = message(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Please wait a little",
            "There were many requests from here or for this address. Try again in a few minutes.",
            None,
        );
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("600"),
        );
        return res;
    }
    let actor = public_actor(&req);
    let outcome = async {
        let mut w = state.store.begin(&actor, state.clock.now()).await?;
        let r = subscribers::request(&mut w, &p.email, &p.components).await?;
        w.commit().await?;
        Ok::<_, StoreError>(r)
    }
    .await;
    match outcome {
        Ok(_) => message(
            &state,
            StatusCode::OK,
            "Check your inbox",
            &format!(
                "If {} is not subscribed yet, a mail with a confirmation link is on its way. Nothing is sent until you confirm.",
                p.email.trim()
            ),
            None,
        ),
        Err(StoreError::Domain(e)) => form_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &p.email,
            Some(match e {
                crate::domain::DomainError::Invalid { message, .. } => message,
                other => other.to_string(),
            }),
            &[],
        ),
        Err(e) => {
            tracing::error!(error = %e, "public subscription");
            message(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "We could not record your subscription just now. Please try again in a few minutes.",
                None,
            )
        }
    }
}

/// The subscriber named by a link's `s`, if any.
async fn subscriber(state: &AppState, s: &str) -> Option<subscribers::Subscriber> {
    if s.is_empty() || s.len() > 32 || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    subscribers::get(state.store.db(), &SubscriberId::from(s))
        .await
        .ok()
}

async fn confirm_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let p = posted(b"", req.query_string());
    let Some(sub) = subscriber(&state, &p.s).await else {
        return broken_link(&state);
    };
    let exp = p.e.parse::<i64>().unwrap_or(0);
    match state
        .notifier
        .links()
        .check_confirm(&sub.row, exp, &p.t, state.clock.now())
    {
        Ok(()) if sub.row.state == SubscriberState::Unconfirmed => message(
            &state,
            StatusCode::OK,
            "Confirm your subscription",
            &format!(
                "Updates will go to {}. Confirm to start receiving them.",
                sub.address()
            ),
            Some(Action {
                url: format!("{}/subscribe/confirm", state.base),
                label: "Confirm subscription",
                fields: vec![
                    Field {
                        name: "s",
                        value: p.s,
                    },
                    Field {
                        name: "e",
                        value: p.e,
                    },
                    Field {
                        name: "t",
                        value: p.t,
                    },
                ],
            }),
        ),
        Ok(()) | Err(Refused::Invalid) if sub.row.state == SubscriberState::Active => message(
            &state,
            StatusCode::OK,
            "You are already subscribed",
            "This subscription is confirmed. Every mail has a link to change what you follow or to unsubscribe.",
            None,
        ),
        Err(Refused::Expired) => message(
            &state,
            StatusCode::GONE,
            "This link has expired",
            "Confirmation links work for 7 days. Subscribe again from the status page to get a new one.",
            None,
        ),
        _ => broken_link(&state),
    }
}

async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = read_body(payload).await.unwrap_or_default();
    let p = posted(&body, req.query_string());
    let Some(sub) = subscriber(&state, &p.s).await else {
        return broken_link(&state);
    };
    let exp = p.e.parse::<i64>().unwrap_or(0);
    let links = state.notifier.links();
    match links.check_confirm(&sub.row, exp, &p.t, state.clock.now()) {
        Ok(()) if sub.row.state == SubscriberState::Unconfirmed => {}
        Ok(()) | Err(Refused::Invalid) if sub.row.state == SubscriberState::Active => {
            return message(
                &state,
                StatusCode::OK,
                "You are already subscribed",
                "This subscription is confirmed.",
                None,
            );
        }
        Err(Refused::Expired) => {
            return message(
                &state,
                StatusCode::GONE,
                "This link has expired",
                "Confirmation links work for 7 days. Subscribe again from the status page to get a new one.",
                None,
            );
        }
        _ => return broken_link(&state),
    }
    let actor = public_actor(&req);
    let done = async {
        let mut w = state.store.begin(&actor, state.clock.now()).await?;
        let s = subscribers::confirm(&mut w, sub.id()).await?;
        w.commit().await?;
        Ok::<_, StoreError>(s)
    }
    .await;
    match done {
        Ok(s) => message(
            &state,
            StatusCode::OK,
            "You are subscribed",
            &format!(
                "Updates from {} will go to {}. Every mail has a link to change what you follow or to unsubscribe.",
                state
                    .snapshots
                    .current()
                    .map(|snap| snap.data.page.name.clone())
                    .unwrap_or_default(),
                s.address()
            ),
            None,
        ),
        Err(e) => {
            tracing::error!(error = %e, "confirming a subscription");
            message(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "Please try the link again in a few minutes.",
                None,
            )
        }
    }
}

fn manage_view(
    state: &AppState,
    sub: &subscribers::Subscriber,
    s: &str,
    t: &str,
    notice: Option<&'static str>,
) -> HttpResponse {
    let body = state.snapshots.dynamic_page(
        "pages/manage",
        "Your subscription",
        "/subscription",
        |layout, data| ManageView {
            layout,
            email: sub.address().to_owned(),
            s: s.to_owned(),
            t: t.to_owned(),
            notice,
            components: choices(data, &sub.components),
        },
    );
    html(StatusCode::OK, body)
}

/// Checks a manage or unsubscribe link; the subscriber, or the answer to give.
async fn managed(state: &AppState, p: &Posted) -> Result<subscribers::Subscriber, HttpResponse> {
    let Some(sub) = subscriber(state, &p.s).await else {
        return Err(broken_link(state));
    };
    if state.notifier.links().check_manage(&sub.row, &p.t).is_err() {
        return Err(broken_link(state));
    }
    Ok(sub)
}

async fn manage_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let p = posted(b"", req.query_string());
    match managed(&state, &p).await {
        Ok(sub) if sub.row.state == SubscriberState::Unsubscribed => message(
            &state,
            StatusCode::OK,
            "You are unsubscribed",
            "No more updates go to this address. To follow the page again, subscribe from the status page.",
            None,
        ),
        Ok(sub) => manage_view(&state, &sub, &p.s, &p.t, None),
        Err(res) => res,
    }
}

async fn manage(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = read_body(payload).await.unwrap_or_default();
    let p = posted(&body, req.query_string());
    let sub = match managed(&state, &p).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let actor = public_actor(&req);
    let done = async {
        let mut w = state.store.begin(&actor, state.clock.now()).await?;
        let s = subscribers::set_components(&mut w, sub.id(), &p.components).await?;
        w.commit().await?;
        Ok::<_, StoreError>(s)
    }
    .await;
    match done {
        Ok(s) => manage_view(
            &state,
            &s,
            &p.s,
            &p.t,
            Some("Saved. You will hear about what is ticked (everything, if nothing is)."),
        ),
        Err(StoreError::Domain(_)) => manage_view(
            &state,
            &sub,
            &p.s,
            &p.t,
            Some("Some of those components no longer exist; nothing was changed."),
        ),
        Err(e) => {
            tracing::error!(error = %e, "changing a subscription");
            message(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "Please try again in a few minutes.",
                None,
            )
        }
    }
}

async fn unsubscribe_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let p = posted(b"", req.query_string());
    match managed(&state, &p).await {
        Ok(sub) if sub.row.state == SubscriberState::Unsubscribed => message(
            &state,
            StatusCode::OK,
            "You are unsubscribed",
            "No more updates go to this address.",
            None,
        ),
        Ok(sub) => message(
            &state,
            StatusCode::OK,
            "Unsubscribe?",
            &format!("No more status updates will go to {}.", sub.address()),
            Some(Action {
                url: format!("{}/unsubscribe", state.base),
                label: "Unsubscribe",
                fields: vec![
                    Field {
                        name: "s",
                        value: p.s,
                    },
                    Field {
                        name: "t",
                        value: p.t,
                    },
                ],
            }),
        ),
        Err(res) => res,
    }
}

/// The one-click unsubscribe (RFC 8058: a POST to the address in `List-Unsubscribe`
/// with `List-Unsubscribe=One-Click`) and the button on the pages.
async fn unsubscribe(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = read_body(payload).await.unwrap_or_default();
    let p = posted(&body, req.query_string());
    let sub = match managed(&state, &p).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    if sub.row.state != SubscriberState::Unsubscribed {
        let actor = public_actor(&req);
        let done = async {
            let mut w = state.store.begin(&actor, state.clock.now()).await?;
            subscribers::unsubscribe(&mut w, std::slice::from_ref(sub.id())).await?;
            w.commit().await?;
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(e) = done {
            tracing::error!(error = %e, "unsubscribing");
            return message(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "Please try again in a few minutes.",
                None,
            );
        }
    }
    message(
        &state,
        StatusCode::OK,
        "You are unsubscribed",
        &format!("No more status updates will go to {}.", sub.address()),
        None,
    )
}
