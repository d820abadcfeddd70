//! Rendering console pages: the frame every page shares (the public page's look, the
//! person signed in, the CSRF token for its forms) and the pages that explain a
//! refusal. Every page is `no-store`.

use actix_web::{HttpResponse, http::StatusCode};
use serde::Serialize;

use super::auth::Signed;
use crate::app::AppState;
use crate::domain::Role;

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub role: &'static str,
}

/// The frame of a console page.
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    pub base: String,
    pub title: String,
    pub page_name: String,
    pub page_url: String,
    pub css_href: String,
    pub console_css_href: String,
    pub console_js_href: String,
    pub icon_href: String,
    /// Who is signed in, if anyone.
    pub person: Option<Person>,
    /// The token the page's forms carry.
    pub csrf: String,
    /// Whether the person may change things (responder or admin).
    pub can_write: bool,
    /// Whether the person is an admin (the ledger, the audit log, settings).
    pub is_admin: bool,
    /// Which part of the console this is, for the navigation.
    pub section: &'static str,
    /// The server's clock (RFC 3339), from which the script counts down promises.
    pub now: String,
}

pub fn frame(state: &AppState, title: &str, who: Option<&Signed>, section: &'static str) -> Frame {
    let links = state.snapshots.static_links();
    let (page_name, page_url) = state
        .snapshots
        .current()
        .map(|s| (s.data.page.name.clone(), s.data.ctx.url.clone()))
        .unwrap_or_default();
    Frame {
        base: state.base.clone(),
        title: format!("{title} · {page_name} console"),
        css_href: format!("{}{}", state.base, links.css),
        console_css_href: format!("{}{}", state.base, links.console_css),
        console_js_href: format!("{}{}", state.base, links.console_js),
        // A `data:` URI, the same on every page.
        icon_href: links.icon.clone(),
        page_name,
        page_url,
        person: who.map(|w| Person {
            name: w.user.name.clone(),
            email: w.user.email.clone(),
            role: w.user.role.as_str(),
        }),
        csrf: who.map(|w| w.csrf.clone()).unwrap_or_default(),
        can_write: who.is_some_and(Signed::can_write),
        is_admin: who.is_some_and(Signed::is_admin),
        section,
        now: state
            .clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// The page's time zone (UTC until the first snapshot).
pub fn tz_of(state: &AppState) -> chrono_tz::Tz {
    state
        .snapshots
        .current()
        .map_or(chrono_tz::UTC, |s| s.data.ctx.tz)
}

/// The answer after a form did its work: go to `location` (Post/Redirect/Get).
pub fn see_other(location: impl Into<String>) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location.into()))
        .finish()
}

/// A field of the request's query string, trimmed; `None` when absent or blank.
pub fn query_param(req: &actix_web::HttpRequest, key: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// An API error as a sentence for a form.
pub fn said(e: &crate::http::error::ApiError) -> String {
    match e {
        crate::http::error::ApiError::Internal(_) => {
            "Something went wrong on the server; nothing was changed. Try again.".to_owned()
        }
        other => format!("Nothing was changed: {other}"),
    }
}

/// An HTML answer that no cache keeps.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// Renders `template` with `view`; a template that fails is logged and answered 500.
pub fn render<T: Serialize>(
    state: &AppState,
    status: StatusCode,
    template: &str,
    view: &T,
) -> HttpResponse {
    match state.snapshots.renderer().render(template, view) {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, template, "rendering a console page");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Console error</title><h1>This page could not be shown</h1><p>Nothing was changed. The error is in the server's log.</p>".to_owned(),
            )
        }
    }
}

#[derive(Serialize)]
struct Message<'a> {
    layout: Frame,
    heading: &'a str,
    message: &'a str,
    back: Option<&'a str>,
}

/// A page that says what happened, and where to go from here.
pub fn message(
    state: &AppState,
    who: Option<&Signed>,
    status: StatusCode,
    heading: &str,
    text: &str,
    back: Option<&str>,
) -> HttpResponse {
    render(
        state,
        status,
        "admin/message",
        &Message {
            layout: frame(state, heading, who, ""),
            heading,
            message: text,
            back,
        },
    )
}

pub fn problem(state: &AppState, status: StatusCode, heading: &str, text: &str) -> HttpResponse {
    message(state, None, status, heading, text, None)
}

pub fn cross_origin(state: &AppState) -> HttpResponse {
    problem(
        state,
        StatusCode::FORBIDDEN,
        "This form did not come from the console",
        "Nothing was changed. The request was sent from another site, or your browser did not say where it came from. Open the console yourself and use its forms.",
    )
}

pub fn bad_csrf(state: &AppState) -> HttpResponse {
    problem(
        state,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Nothing was changed. The form's security token is missing or does not match your session (it may be from before you last signed in). Go back, reload the page and send it again.",
    )
}

pub fn forbidden_role(state: &AppState, who: &Signed, need: Role) -> HttpResponse {
    message(
        state,
        Some(who),
        StatusCode::FORBIDDEN,
        "Your role cannot do this",
        &format!(
            "Nothing was changed. You are signed in as a {}; this needs a {}. Ask an admin to change your role.",
            who.user.role, need
        ),
        Some("/admin"),
    )
}

pub fn unavailable(state: &AppState) -> HttpResponse {
    problem(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "The console cannot reach its database",
        "Nothing was changed. Try again in a moment; the public page keeps being served.",
    )
}

pub fn not_found(state: &AppState, who: Option<&Signed>, what: &str) -> HttpResponse {
    message(
        state,
        who,
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("There is no {what} here. It may have been deleted, or the address is mistyped."),
        Some("/admin"),
    )
}
