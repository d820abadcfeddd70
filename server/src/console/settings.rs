//! Settings: the page's own (as `PATCH /v1/pages/{page_id}` has them), the people who
//! sign in to the console (as `/v1/pages/{page_id}/users`) and API tokens (as
//! `.../api-tokens`). Every change goes through the API's own functions
//! (`http::v1::{pages, users, tokens}`), so the console and the API cannot disagree; the
//! same roles apply: anyone signed in may read the page's settings, only admins change
//! them, and only admins see people and tokens.

use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, web};
use serde::Serialize;

use super::auth::{Form, Posted, Signed, Viewing};
use super::pages::{self, Frame, frame, query_param, render, said, see_other, tz_of};
use crate::app::AppState;
use crate::domain::{Role, UserId};
use crate::http::{
    error::ApiError,
    v1::{
        pages::{self as page_api, PageBody},
        tokens::{self as token_api, TokenBody},
        users::{self as user_api, UserBody},
    },
};
use crate::render::time::{TimeView, time_view};
use crate::store::{StoreError, tokens, users};

/// People shown on one page of the list.
const PEOPLE_PER_PAGE: u64 = 50;
/// The longest search text (as the API's).
const MAX_QUERY: usize = 200;

/// The field an API error names, without the body's key (`page.name` is `name`).
fn field_of(e: &ApiError) -> Option<(&str, &str)> {
    match e {
        ApiError::Invalid {
            field: Some(f),
            message,
            ..
        } => {
            let f = f.rsplit('.').next().unwrap_or(f);
            Some((f, message.as_str()))
        }
        _ => None,
    }
}

/// The status a form that failed comes back with.
fn status_of(e: &ApiError) -> StatusCode {
    match e {
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        other => other.status_code(),
    }
}

#[derive(Debug, Serialize)]
struct Opt {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn role_options(chosen: Role) -> Vec<Opt> {
    Role::ALL
        .iter()
        .map(|&r| Opt {
            value: r.as_str(),
            label: match r {
                Role::Viewer => "Viewer: sees everything, changes nothing",
                Role::Responder => "Responder: incidents, maintenance, subscribers",
                Role::Admin => "Admin: also settings, people and tokens",
            },
            selected: r == chosen,
        })
        .collect()
}

fn role_of(form: &Form) -> Result<Role, String> {
    match form.text("role") {
        None => Ok(Role::Viewer),
        Some(r) => r
            .parse::<Role>()
            .map_err(|_| format!("'{r}' is not a role: choose viewer, responder or admin.")),
    }
}

// ---------------------------------------------------------------------------------
// The page's settings.

#[derive(Debug, Default, Serialize)]
struct PageFields {
    name: String,
    time_zone: String,
    subdomain: String,
    support_url: String,
    responder_emails: String,
    responder_webhook_url: String,
    reminder_lead_minutes: String,
    show_first_update_delay: bool,
}

/// Each field's error, tied to it on the form.
#[derive(Debug, Default, Serialize)]
struct PageErrors {
    name: Option<String>,
    time_zone: Option<String>,
    subdomain: Option<String>,
    support_url: Option<String>,
    responder_emails: Option<String>,
    responder_webhook_url: Option<String>,
    reminder_lead_minutes: Option<String>,
}

impl PageErrors {
    fn set(&mut self, field: &str, message: &str) -> bool {
        let slot = match field {
            "name" => &mut self.name,
            "time_zone" => &mut self.time_zone,
            "subdomain" => &mut self.subdomain,
            "support_url" => &mut self.support_url,
            "responder_emails" => &mut self.responder_emails,
            "responder_webhook_url" => &mut self.responder_webhook_url,
            "reminder_lead_minutes" => &mut self.reminder_lead_minutes,
            _ => return false,
        };
        *slot = Some(message.to_owned());
        true
    }
}

#[derive(Debug, Serialize)]
struct Zone {
    name: &'static str,
    selected: bool,
}

#[derive(Serialize)]
struct SettingsView {
    layout: Frame,
    sub: &'static str,
    can_admin: bool,
    url: String,
    default_subdomain: String,
    max_lead: u32,
    f: PageFields,
    errs: PageErrors,
    zones: Vec<Zone>,
    notice: Option<&'static str>,
    error: Option<String>,
}

fn fields_of(p: &crate::store::pages::Page) -> PageFields {
    PageFields {
        name: p.name.clone(),
        time_zone: p.time_zone.clone(),
        subdomain: p.subdomain.clone().unwrap_or_default(),
        support_url: p.support_url.clone().unwrap_or_default(),
        responder_emails: p.responder_emails.join("\n"),
        responder_webhook_url: p.responder_webhook_url.clone().unwrap_or_default(),
        reminder_lead_minutes: p.reminder_lead_minutes.to_string(),
        show_first_update_delay: p.show_first_update_delay,
    }
}

/// What the form says, as typed (to show it again when it is refused).
fn fields_posted(form: &Form) -> PageFields {
    PageFields {
        name: form.str("name").to_owned(),
        time_zone: form.str("time_zone").trim().to_owned(),
        subdomain: form.str("subdomain").trim().to_owned(),
        support_url: form.str("support_url").trim().to_owned(),
        responder_emails: form.str("responder_emails").to_owned(),
        responder_webhook_url: form.str("responder_webhook_url").trim().to_owned(),
        reminder_lead_minutes: form.str("reminder_lead_minutes").trim().to_owned(),
        show_first_update_delay: form.ticked("show_first_update_delay"),
    }
}

/// The form as the API's body. Every field is sent (an empty support or webhook URL
/// clears it); an empty subdomain leaves it as it is.
fn page_body(f: &PageFields) -> Result<PageBody, (&'static str, String)> {
    let minutes = match f.reminder_lead_minutes.as_str() {
        "" => None,
        m => Some(m.parse::<u32>().map_err(|_| {
            (
                "reminder_lead_minutes",
                "The reminder lead must be a whole number of minutes.".to_owned(),
            )
        })?),
    };
    let emails: Vec<String> = f
        .responder_emails
        .split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(PageBody {
        name: Some(f.name.trim().to_owned()),
        time_zone: Some(f.time_zone.clone()).filter(|z| !z.is_empty()),
        subdomain: Some(f.subdomain.clone()).filter(|s| !s.is_empty()),
        support_url: Some(f.support_url.clone()),
        responder_emails: Some(emails),
        responder_webhook_url: Some(f.responder_webhook_url.clone()),
        reminder_lead_minutes: minutes,
        show_first_update_delay: Some(f.show_first_update_delay),
    })
}

async fn settings_page(
    state: &AppState,
    who: &Signed,
    status: StatusCode,
    posted: Option<PageFields>,
    errs: PageErrors,
    notice: Option<&'static str>,
    error: Option<String>,
) -> HttpResponse {
    let page = match crate::store::pages::get(state.store.db(), state.store.page_id()).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "the settings page");
            return pages::unavailable(state);
        }
    };
    let f = posted.unwrap_or_else(|| fields_of(&page));
    let zones = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|z| Zone {
            name: z.name(),
            selected: z.name() == f.time_zone,
        })
        .collect();
    let view = SettingsView {
        layout: frame(state, "Settings", Some(who), "settings"),
        sub: "page",
        can_admin: who.is_admin(),
        url: page.url.clone(),
        default_subdomain: page.subdomain(),
        max_lead: crate::store::pages::MAX_REMINDER_LEAD_MINUTES,
        f,
        errs,
        zones,
        notice,
        error,
    };
    render(state, status, "admin/settings", &view)
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let notice = match query_param(&req, "done").as_deref() {
        Some("saved") => Some("The settings are saved."),
        _ => None,
    };
    settings_page(
        &state,
        &who,
        StatusCode::OK,
        None,
        PageErrors::default(),
        notice,
        None,
    )
    .await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn save(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    if p.form.str("action") != "save" {
        return settings_page(
            &state,
            &p.who,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            PageErrors::default(),
            None,
            Some("Nothing was changed: use the Save button to change the settings.".to_owned()),
        )
        .await;
    }
    let f = fields_posted(&p.form);
    let body = match page_body(&f) {
        Ok(b) => b,
        Err((field, m)) => {
            let mut errs = PageErrors::default();
            errs.set(field, &m);
            return settings_page(
                &state,
                &p.who,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(f),
                errs,
                None,
                Some(format!("Nothing was changed: {m}")),
            )
            .await;
        }
    };
    match page_api::apply(&state, &p.who.actor, body).await {
        Ok(_) => see_other(format!("{}/admin/settings?done=saved", state.base)),
        Err(e) => {
            let mut errs = PageErrors::default();
            if let Some((field, m)) = field_of(&e) {
                errs.set(field, m);
            }
            settings_page(
                &state,
                &p.who,
                status_of(&e),
                Some(f),
                errs,
                None,
                Some(said(&e)),
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------
// People.

#[derive(Debug, Serialize)]
struct PersonRow {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    /// `invited` (no password yet), `active` or `disabled`, as the API says.
    state: &'static str,
    created: TimeView,
    you: bool,
    roles: Vec<Opt>,
}

#[derive(Debug, Default, Serialize)]
struct InviteErrors {
    email: Option<String>,
    name: Option<String>,
    role: Option<String>,
}

#[derive(Serialize)]
struct PeopleView {
    layout: Frame,
    sub: &'static str,
    can_admin: bool,
    rows: Vec<PersonRow>,
    q: String,
    page: u64,
    prev_href: Option<String>,
    next_href: Option<String>,
    email: String,
    name: String,
    roles: Vec<Opt>,
    errs: InviteErrors,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// What a people page shows besides the list.
struct PeopleExtra {
    status: StatusCode,
    q: Option<String>,
    page: u64,
    email: String,
    name: String,
    role: Role,
    errs: InviteErrors,
    notice: Option<&'static str>,
    error: Option<String>,
}

impl PeopleExtra {
    fn none() -> PeopleExtra {
        PeopleExtra {
            status: StatusCode::OK,
            q: None,
            page: 1,
            email: String::new(),
            name: String::new(),
            role: Role::Viewer,
            errs: InviteErrors::default(),
            notice: None,
            error: None,
        }
    }

    fn failed(status: StatusCode, error: String) -> PeopleExtra {
        PeopleExtra {
            status,
            error: Some(error),
            ..PeopleExtra::none()
        }
    }
}

fn state_of_user(u: &users::User) -> &'static str {
    match (u.disabled_at.is_some(), u.has_password) {
        (true, _) => "disabled",
        (false, true) => "active",
        (false, false) => "invited",
    }
}

fn people_href(state: &AppState, q: &str, page: u64) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        s.append_pair("q", q);
    }
    s.append_pair("page", &page.to_string());
    format!("{}/admin/settings/users?{}", state.base, s.finish())
}

async fn people_page(state: &AppState, who: &Signed, x: PeopleExtra) -> HttpResponse {
    let q =
        x.q.as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .chars()
            .take(MAX_QUERY)
            .collect::<String>();
    let page = x.page.clamp(1, 10_000);
    let found = users::search(
        state.store.db(),
        state.store.page_id(),
        Some(q.as_str()),
        PEOPLE_PER_PAGE,
        (page - 1) * PEOPLE_PER_PAGE,
    )
    .await;
    let (list, more) = match found {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "the people page");
            return pages::unavailable(state);
        }
    };
    let tz = tz_of(state);
    let view = PeopleView {
        layout: frame(state, "People", Some(who), "settings"),
        sub: "users",
        can_admin: true,
        rows: list
            .iter()
            .map(|u| PersonRow {
                id: u.id.to_string(),
                name: u.name.clone(),
                email: u.email.clone(),
                role: u.role.as_str(),
                state: state_of_user(u),
                created: time_view(u.created_at, tz),
                you: u.id == who.user.id,
                roles: role_options(u.role),
            })
            .collect(),
        prev_href: (page > 1).then(|| people_href(state, &q, page - 1)),
        next_href: more.then(|| people_href(state, &q, page + 1)),
        q,
        page,
        email: x.email,
        name: x.name,
        roles: role_options(x.role),
        errs: x.errs,
        notice: x.notice,
        error: x.error,
    };
    render(state, x.status, "admin/users", &view)
}

pub async fn people(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let mut x = PeopleExtra::none();
    x.q = query_param(&req, "q");
    x.page = query_param(&req, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1);
    x.notice = match query_param(&req, "done").as_deref() {
        Some("invited") => Some("The invitation is on its way by mail."),
        Some("role") => Some("The role is changed; their sessions have ended."),
        Some("link") => Some("A new sign-in link is on its way by mail."),
        Some("removed") => Some("The person is removed; their sessions have ended."),
        _ => None,
    };
    people_page(&state, &who, x).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn invite(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let mut x = PeopleExtra::none();
    x.email = p.form.str("email").trim().to_owned();
    x.name = p.form.str("name").trim().to_owned();
    let role = match role_of(&p.form) {
        Ok(r) => r,
        Err(m) => {
            x.status = StatusCode::UNPROCESSABLE_ENTITY;
            x.errs.role = Some(m.clone());
            x.error = Some(format!("Nothing was changed: {m}"));
            return people_page(&state, &p.who, x).await;
        }
    };
    x.role = role;
    if x.email.is_empty() {
        x.status = StatusCode::UNPROCESSABLE_ENTITY;
        let m = "Enter the address of the person to invite.";
        x.errs.email = Some(m.to_owned());
        x.error = Some(format!("Nothing was changed: {m}"));
        return people_page(&state, &p.who, x).await;
    }
    let body = UserBody {
        email: Some(x.email.clone()),
        name: Some(x.name.clone()).filter(|n| !n.is_empty()),
        role: Some(role),
        disabled: None,
    };
    match user_api::invite(&state, &p.who.actor, body).await {
        Ok(_) => see_other(format!("{}/admin/settings/users?done=invited", state.base)),
        Err(e) => {
            x.status = status_of(&e);
            match field_of(&e) {
                Some(("name", m)) => x.errs.name = Some(m.to_owned()),
                Some((_, m)) => x.errs.email = Some(m.to_owned()),
                // A taken address is the address's problem.
                None if matches!(e, ApiError::Conflict(_)) => x.errs.email = Some(e.to_string()),
                None => {}
            }
            x.error = Some(said(&e));
            people_page(&state, &p.who, x).await
        }
    }
}

/// Changes a person's role, mails them a new link, or removes them (`action=delete`
/// only: anything else changes nothing).
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, person))]
pub async fn person(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = UserId::from(path.into_inner());
    tracing::Span::current().record("person", id.as_str());
    let exists = users::get(state.store.db(), &id).await;
    match exists {
        Ok(_) => {}
        Err(StoreError::NotFound { .. }) => {
            return pages::not_found(&state, Some(&p.who), "person");
        }
        Err(e) => {
            tracing::error!(error = %e, "the people page");
            return pages::unavailable(&state);
        }
    }
    let done = match p.form.str("action") {
        "role" => {
            let role = match role_of(&p.form) {
                Ok(r) => r,
                Err(m) => {
                    let x = PeopleExtra::failed(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("Nothing was changed: {m}"),
                    );
                    return people_page(&state, &p.who, x).await;
                }
            };
            let body = UserBody {
                role: Some(role),
                ..UserBody::default()
            };
            user_api::change(&state, &p.who.actor, &id, body)
                .await
                .map(|_| "role")
        }
        "link" => user_api::mail_link(&state, &p.who.actor, &id)
            .await
            .map(|_| "link"),
        "delete" => user_api::remove(&state, &p.who.actor, &id)
            .await
            .map(|_| "removed"),
        _ => {
            let x = PeopleExtra::failed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Nothing was changed: choose Change role, Send sign-in link or Remove.".to_owned(),
            );
            return people_page(&state, &p.who, x).await;
        }
    };
    match done {
        Ok(done) => see_other(format!("{}/admin/settings/users?done={done}", state.base)),
        Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "person"),
        Err(e) => {
            let x = PeopleExtra::failed(status_of(&e), said(&e));
            people_page(&state, &p.who, x).await
        }
    }
}

// ---------------------------------------------------------------------------------
// API tokens.

#[derive(Debug, Serialize)]
struct TokenRow {
    id: String,
    name: String,
    role: &'static str,
    prefix: String,
    created: TimeView,
    last_used: Option<TimeView>,
    revoked: Option<TimeView>,
}

/// A token just made: its secret, shown this once.
#[derive(Debug, Serialize)]
struct Fresh {
    name: String,
    role: &'static str,
    secret: String,
}

#[derive(Serialize)]
struct TokensView {
    layout: Frame,
    sub: &'static str,
    can_admin: bool,
    rows: Vec<TokenRow>,
    name: String,
    roles: Vec<Opt>,
    name_error: Option<String>,
    fresh: Option<Fresh>,
    notice: Option<&'static str>,
    error: Option<String>,
}

struct TokensExtra {
    status: StatusCode,
    name: String,
    role: Role,
    name_error: Option<String>,
    fresh: Option<Fresh>,
    notice: Option<&'static str>,
    error: Option<String>,
}

impl TokensExtra {
    fn none() -> TokensExtra {
        TokensExtra {
            status: StatusCode::OK,
            name: String::new(),
            role: Role::Viewer,
            name_error: None,
            fresh: None,
            notice: None,
            error: None,
        }
    }
}

async fn tokens_page(state: &AppState, who: &Signed, x: TokensExtra) -> HttpResponse {
    let all = match tokens::list(state.store.db()).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "the tokens page");
            return pages::unavailable(state);
        }
    };
    let tz = tz_of(state);
    let view = TokensView {
        layout: frame(state, "API tokens", Some(who), "settings"),
        sub: "tokens",
        can_admin: true,
        // Live tokens first, newest first within each.
        rows: {
            let mut rows: Vec<&tokens::Token> = all.iter().collect();
            rows.sort_by_key(|t| (t.revoked_at.is_some(), std::cmp::Reverse(t.created_at)));
            rows.into_iter()
                .map(|t| TokenRow {
                    id: t.id.to_string(),
                    name: t.name.clone(),
                    role: t.role.as_str(),
                    prefix: t.prefix.clone(),
                    created: time_view(t.created_at, tz),
                    last_used: t.last_used_at.map(|at| time_view(at, tz)),
                    revoked: t.revoked_at.map(|at| time_view(at, tz)),
                })
                .collect()
        },
        name: x.name,
        roles: role_options(x.role),
        name_error: x.name_error,
        fresh: x.fresh,
        notice: x.notice,
        error: x.error,
    };
    render(state, x.status, "admin/tokens", &view)
}

pub async fn token_list(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let mut x = TokensExtra::none();
    x.notice = match query_param(&req, "done").as_deref() {
        Some("revoked") => Some("The token is revoked: it no longer works."),
        _ => None,
    };
    tokens_page(&state, &who, x).await
}

/// Creates a token; the answer is the page with its secret, shown this once (never
/// stored, and the page is `no-store`).
#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn create_token(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let mut x = TokensExtra::none();
    x.name = p.form.str("name").trim().to_owned();
    let role = match role_of(&p.form) {
        Ok(r) => r,
        Err(m) => {
            x.status = StatusCode::UNPROCESSABLE_ENTITY;
            x.error = Some(format!("Nothing was changed: {m}"));
            return tokens_page(&state, &p.who, x).await;
        }
    };
    x.role = role;
    if x.name.is_empty() {
        let m = "Give the token a name that says who or what uses it.";
        x.status = StatusCode::UNPROCESSABLE_ENTITY;
        x.name_error = Some(m.to_owned());
        x.error = Some(format!("Nothing was changed: {m}"));
        return tokens_page(&state, &p.who, x).await;
    }
    let body = TokenBody {
        name: x.name.clone(),
        role: Some(role),
    };
    match token_api::issue(&state, &p.who.actor, body).await {
        Ok((t, secret)) => {
            let x = TokensExtra {
                fresh: Some(Fresh {
                    name: t.name,
                    role: t.role.as_str(),
                    secret: secret.0,
                }),
                ..TokensExtra::none()
            };
            tokens_page(&state, &p.who, x).await
        }
        Err(e) => {
            x.status = status_of(&e);
            if let Some((_, m)) = field_of(&e) {
                x.name_error = Some(m.to_owned());
            }
            x.error = Some(said(&e));
            tokens_page(&state, &p.who, x).await
        }
    }
}

/// Revokes a token (`action=revoke` only: anything else changes nothing).
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, token))]
pub async fn revoke_token(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    tracing::Span::current().record("token", id.as_str());
    if p.form.str("action") != "revoke" {
        let x = TokensExtra {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: Some("Nothing was changed: use the Revoke button to revoke a token.".to_owned()),
            ..TokensExtra::none()
        };
        return tokens_page(&state, &p.who, x).await;
    }
    match token_api::withdraw(&state, &p.who.actor, &id).await {
        Ok(_) => see_other(format!("{}/admin/settings/tokens?done=revoked", state.base)),
        Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "API token"),
        Err(e) => {
            let x = TokensExtra {
                status: status_of(&e),
                error: Some(said(&e)),
                ..TokensExtra::none()
            };
            tokens_page(&state, &p.who, x).await
        }
    }
}
