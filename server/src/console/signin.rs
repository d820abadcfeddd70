//! Signing in and out: email and password, the one-time link that lets a person choose
//! a password (an invitation or a reset), and asking for a reset by mail. Answers never
//! say whether an address has an account.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use serde::Serialize;

use super::auth::{
    AnonPosted, FORM_COOKIE, Posted, SESSION_COOKIE, cookie, same_origin, set_cookie,
};
use super::pages::{self, Frame, frame, render};
use crate::app::AppState;
use crate::domain::user::{Purpose, session_absolute};
use crate::http::access::client_of;
use crate::store::{Actor, StoreError, sessions, users};
use actix_web::cookie::SameSite;

/// The form token for pages shown before sign-in: the cookie's if it has one.
fn form_token(req: &HttpRequest) -> (String, bool) {
    match cookie(req, FORM_COOKIE) {
        Some(t) => (t, false),
        None => (crate::store::new_id() + &crate::store::new_id(), true),
    }
}

fn with_form_cookie(
    state: &AppState,
    mut res: HttpResponse,
    token: &str,
    fresh: bool,
) -> HttpResponse {
    if fresh
        && let Ok(v) = header::HeaderValue::from_str(&set_cookie(
            state,
            FORM_COOKIE,
            token,
            SameSite::Strict,
            None,
        ))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// Where to go after signing in: a console page, never another site.
fn next_page(state: &AppState, next: &str) -> String {
    // Printable ASCII only: it becomes a Location header.
    let ok = next.starts_with("/admin")
        && next.bytes().all(|b| b.is_ascii_graphic())
        && !next.contains("//")
        && !next.contains('\\')
        && next.len() <= 512
        && !next.starts_with("/admin/signin");
    if ok {
        format!("{}{next}", state.base)
    } else {
        format!("{}/admin", state.base)
    }
}

#[derive(Serialize)]
struct SignInView {
    layout: Frame,
    email: String,
    next: String,
    error: Option<String>,
    notice: Option<&'static str>,
}

fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    csrf: String,
    email: &str,
    next: &str,
    error: Option<String>,
    notice: Option<&'static str>,
) -> HttpResponse {
    let mut layout = frame(state, "Sign in", None, "signin");
    layout.csrf = csrf;
    render(
        state,
        status,
        "admin/signin",
        &SignInView {
            layout,
            email: email.to_owned(),
            next: next.to_owned(),
            error,
            notice,
        },
    )
}

fn query(req: &HttpRequest, key: &str) -> String {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.chars().take(512).collect())
        .unwrap_or_default()
}

pub async fn form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let (token, fresh) = form_token(&req);
    let notice = match (query(&req, "expired").as_str(), query(&req, "out").as_str()) {
        ("1", _) => Some("Your session has ended, so nothing was changed. Sign in again to go on."),
        (_, "1") => Some("You are signed out."),
        _ => None,
    };
    let res = sign_in_page(
        &state,
        StatusCode::OK,
        token.clone(),
        "",
        &query(&req, "next"),
        None,
        notice,
    );
    with_form_cookie(&state, res, &token, fresh)
}

fn too_many(state: &AppState) -> HttpResponse {
    let mut res = pages::problem(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "Please wait a few minutes",
        "There were many sign-in attempts from here or for this address. Try again in a few minutes, or ask an admin for a new link.",
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("180"));
    res
}

/// Starts a session for `user` and answers with its cookie and a redirect to `to`.
async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
    user: &users::User,
    to: &str,
    how: &str,
) -> HttpResponse {
    let actor = Actor {
        token_id: None,
        name: user.actor_name(),
        role: user.role,
        client: client_of(req).map(|c| c.to_string()),
    };
    let started = async {
        let w = state.store.begin(&actor, state.clock.now()).await?;
        let sid = sessions::start(w.conn(), &user.id, w.now()).await?;
        w.audit(
            "user.sign_in",
            "user",
            user.id.as_str(),
            serde_json::json!({"email": user.email, "by": how}),
        )
        .await?;
        w.commit().await?;
        Ok::<_, StoreError>(sid)
    }
    .await;
    let sid = match started {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "starting a console session");
            return pages::unavailable(state);
        }
    };
    let cookie = set_cookie(
        state,
        SESSION_COOKIE,
        &sid.0,
        SameSite::Lax,
        Some(session_absolute().num_seconds()),
    );
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .insert_header((header::SET_COOKIE, cookie))
        .finish()
}

#[tracing::instrument(skip_all)]
pub async fn submit(state: web::Data<AppState>, req: HttpRequest, p: AnonPosted) -> HttpResponse {
    let email = p
        .form
        .str("email")
        .trim()
        .chars()
        .take(254)
        .collect::<String>();
    let password = p.form.str("password").to_owned();
    let next = p.form.str("next").to_owned();
    let csrf = p.form.str("csrf").to_owned();
    if !state.console_limits.allow(client_of(&req), &email) {
        return too_many(&state);
    }
    let found = match users::find_by_email(state.store.db(), state.store.page_id(), &email).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "looking up a console user");
            return pages::unavailable(&state);
        }
    };
    let hash = found.as_ref().and_then(|u| u.password_hash.clone());
    let pw = password
        .chars()
        .take(crate::domain::user::MAX_PASSWORD)
        .collect::<String>();
    // A wrong address costs what a wrong password does, off the request threads.
    let matches = web::block(move || {
        users::verify_password(hash.as_deref().unwrap_or(users::decoy_hash()), &pw)
    })
    .await
    .unwrap_or(false);
    match found {
        Some(u) if matches && u.disabled_at.is_none() && u.password_hash.is_some() => {
            let user = users::User::from(u);
            signed_in(&state, &req, &user, &next_page(&state, &next), "password").await
        }
        _ => sign_in_page(
            &state,
            StatusCode::UNAUTHORIZED,
            csrf,
            &email,
            &next,
            Some(
                "That email address and password do not match an account that may sign in.".into(),
            ),
            None,
        ),
    }
}

#[derive(Serialize)]
struct WelcomeView {
    layout: Frame,
    token: String,
    email: String,
    reset: bool,
    error: Option<String>,
    min: usize,
}

fn broken_link(state: &AppState) -> HttpResponse {
    pages::message(
        state,
        None,
        StatusCode::BAD_REQUEST,
        "This link does not work",
        "Sign-in links work once, for 24 hours. This one was used, has expired, or was cut short by your mail program. Ask an admin for a new one, or reset your password.",
        Some("/admin/reset"),
    )
}

fn welcome_page(
    state: &AppState,
    status: StatusCode,
    csrf: String,
    token: &str,
    user: &crate::store::entity::users::Model,
    purpose: Purpose,
    error: Option<String>,
) -> HttpResponse {
    let mut layout = frame(state, "Choose your password", None, "signin");
    layout.csrf = csrf;
    render(
        state,
        status,
        "admin/welcome",
        &WelcomeView {
            layout,
            token: token.to_owned(),
            email: user.email.clone(),
            reset: purpose == Purpose::Reset,
            error,
            min: crate::domain::user::MIN_PASSWORD,
        },
    )
}

pub async fn welcome(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let token = query(&req, "token");
    let (csrf, fresh) = form_token(&req);
    let res = match users::link(state.store.db(), &token, state.clock.now()).await {
        Ok(Some((user, purpose))) => welcome_page(
            &state,
            StatusCode::OK,
            csrf.clone(),
            &token,
            &user,
            purpose,
            None,
        ),
        Ok(None) => broken_link(&state),
        Err(e) => {
            tracing::error!(error = %e, "reading a sign-in link");
            pages::unavailable(&state)
        }
    };
    with_form_cookie(&state, res, &csrf, fresh)
}

#[tracing::instrument(skip_all)]
pub async fn choose_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    p: AnonPosted,
) -> HttpResponse {
    let token = p.form.str("token").to_owned();
    let csrf = p.form.str("csrf").to_owned();
    let (user, purpose) = match users::link(state.store.db(), &token, state.clock.now()).await {
        Ok(Some(found)) => found,
        Ok(None) => return broken_link(&state),
        Err(e) => {
            tracing::error!(error = %e, "reading a sign-in link");
            return pages::unavailable(&state);
        }
    };
    let (password, again) = (p.form.str("password"), p.form.str("confirm"));
    let refused = if password != again {
        Some("The two passwords are not the same.".to_owned())
    } else {
        crate::domain::user::password("password", password)
            .err()
            .map(|e| format!("{}.", capitalised(&e.to_string())))
    };
    if let Some(error) = refused {
        return welcome_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            csrf,
            &token,
            &user,
            purpose,
            Some(error),
        );
    }
    let pw = password.to_owned();
    let hash = match web::block(move || users::hash_password(&pw)).await {
        Ok(Ok(h)) => h,
        _ => return pages::unavailable(&state),
    };
    let actor = Actor {
        token_id: None,
        name: users::User::from(user.clone()).actor_name(),
        role: user.role,
        client: client_of(&req).map(|c| c.to_string()),
    };
    let redeemed = async {
        let mut w = state.store.begin(&actor, state.clock.now()).await?;
        let u = users::redeem(&mut w, &token, hash).await?;
        w.commit().await?;
        Ok::<_, StoreError>(u)
    }
    .await;
    match redeemed {
        Ok(Some(u)) => {
            signed_in(
                &state,
                &req,
                &u,
                &format!("{}/admin", state.base),
                purpose.as_str(),
            )
            .await
        }
        Ok(None) => broken_link(&state),
        Err(e) => {
            tracing::error!(error = %e, "setting a password");
            pages::unavailable(&state)
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[derive(Serialize)]
struct ResetView {
    layout: Frame,
    email: String,
    sent: bool,
}

pub async fn reset_form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let (csrf, fresh) = form_token(&req);
    let mut layout = frame(&state, "Reset your password", None, "signin");
    layout.csrf = csrf.clone();
    let res = render(
        &state,
        StatusCode::OK,
        "admin/reset",
        &ResetView {
            layout,
            email: String::new(),
            sent: false,
        },
    );
    with_form_cookie(&state, res, &csrf, fresh)
}

#[tracing::instrument(skip_all)]
pub async fn reset(state: web::Data<AppState>, req: HttpRequest, p: AnonPosted) -> HttpResponse {
    let email = p
        .form
        .str("email")
        .trim()
        .chars()
        .take(254)
        .collect::<String>();
    if !state.console_limits.allow(client_of(&req), &email) {
        return too_many(&state);
    }
    match users::find_by_email(state.store.db(), state.store.page_id(), &email).await {
        Ok(Some(u)) if u.disabled_at.is_none() => {
            let actor = Actor {
                token_id: None,
                name: users::User::from(u.clone()).actor_name(),
                role: u.role,
                client: client_of(&req).map(|c| c.to_string()),
            };
            let asked = async {
                let mut w = state.store.begin(&actor, state.clock.now()).await?;
                users::request_link(&mut w, &u.id, Purpose::Reset).await?;
                w.audit(
                    "user.reset_requested",
                    "user",
                    u.id.as_str(),
                    serde_json::json!({}),
                )
                .await?;
                w.commit().await?;
                Ok::<_, StoreError>(())
            }
            .await;
            if let Err(e) = asked {
                tracing::error!(error = %e, "asking for a password reset");
                return pages::unavailable(&state);
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(error = %e, "looking up a console user");
            return pages::unavailable(&state);
        }
    }
    let mut layout = frame(&state, "Reset your password", None, "signin");
    layout.csrf = p.form.str("csrf").to_owned();
    render(
        &state,
        StatusCode::OK,
        "admin/reset",
        &ResetView {
            layout,
            email,
            sent: true,
        },
    )
}

#[tracing::instrument(skip_all)]
pub async fn sign_out(state: web::Data<AppState>, req: HttpRequest, p: Posted) -> HttpResponse {
    debug_assert!(same_origin(&req, &state));
    let ended = async {
        let w = state.store.begin(&p.who.actor, state.clock.now()).await?;
        sessions::end(w.conn(), &p.who.sid).await?;
        w.audit(
            "user.sign_out",
            "user",
            p.who.user.id.as_str(),
            serde_json::json!({"email": p.who.user.email}),
        )
        .await?;
        w.commit().await?;
        Ok::<_, StoreError>(())
    }
    .await;
    if let Err(e) = ended {
        tracing::error!(error = %e, "signing out");
        return pages::unavailable(&state);
    }
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("{}/admin/signin?out=1", state.base),
        ))
        .insert_header((
            header::SET_COOKIE,
            set_cookie(&state, SESSION_COOKIE, "", SameSite::Lax, Some(0)),
        ))
        .finish()
}
