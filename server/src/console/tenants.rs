//! Tenants: the list (search by name, pages), creating and editing one with the admin
//! API's `TenantBody` and its checks, deleting one (`action=delete`), and the CSV
//! import. Tenants are an admin's to change, as in the API; responders see them.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::Serialize;

use super::auth::{Form, Posted, Signed, Viewing};
use super::pages::{self, Frame, frame, render, said, see_other};
use super::people::{PAGE_SIZE, Pick, field_of, import_page, lines, picks};
use crate::app::AppState;
use crate::bulk::Kind;
use crate::domain::{Channel, Component, ComponentId, TenantId};
use crate::http::{
    error::ApiError,
    v1::{
        commit,
        tenants::{TenantBody, changes, check_webhooks},
    },
};
use crate::store::{
    StoreError, components,
    tenants::{self, Tenant},
};

fn query_of(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    name: String,
    runs_on: String,
    emails: usize,
    webhooks: usize,
}

/// What a tenant's form says (or the tenant as it is).
#[derive(Debug, Default, Clone)]
struct Draft {
    name: String,
    emails: String,
    webhooks: String,
    runs_on: Vec<ComponentId>,
}

impl Draft {
    fn of(t: &Tenant) -> Draft {
        let of = |k: Channel| {
            t.contacts
                .iter()
                .filter(|c| c.kind == k)
                .map(|c| c.address.clone())
                .collect::<Vec<_>>()
                .join("\n")
        };
        Draft {
            name: t.name.clone(),
            emails: of(Channel::Email),
            webhooks: of(Channel::Webhook),
            runs_on: t.runs_on.clone(),
        }
    }

    fn read(form: &Form) -> Draft {
        Draft {
            name: form.str("name").trim().to_owned(),
            emails: form.str("emails").to_owned(),
            webhooks: form.str("webhooks").to_owned(),
            runs_on: form
                .list("runs_on")
                .into_iter()
                .map(ComponentId::from)
                .collect(),
        }
    }

    /// The API's body: every field given, so the form replaces the tenant's
    /// contacts and components as a `PUT` does.
    fn body(&self, all: &[Component]) -> TenantBody {
        let (groups, comps): (Vec<ComponentId>, Vec<ComponentId>) = self
            .runs_on
            .iter()
            .cloned()
            .partition(|id| all.iter().any(|c| &c.id == id && c.is_group));
        TenantBody {
            name: Some(self.name.clone()),
            emails: Some(lines(&self.emails)),
            webhooks: Some(lines(&self.webhooks)),
            component_ids: Some(comps),
            group_ids: Some(groups),
        }
    }
}

#[derive(Debug, Serialize)]
struct Secret {
    url: String,
    secret: String,
}

#[derive(Serialize)]
struct FormView {
    name: String,
    emails: String,
    webhooks: String,
    components: Vec<Pick>,
}

fn form_view(d: &Draft, all: &[Component]) -> FormView {
    FormView {
        name: d.name.clone(),
        emails: d.emails.clone(),
        webhooks: d.webhooks.clone(),
        components: picks(all, &d.runs_on),
    }
}

#[derive(Serialize)]
struct ListView {
    layout: Frame,
    q: String,
    rows: Vec<Row>,
    next: Option<String>,
    previous: Option<String>,
    page: u64,
    form: FormView,
    notice: Option<String>,
    error: Option<String>,
    error_field: Option<String>,
    can_admin: bool,
}

fn runs_on_text(t: &Tenant, all: &[Component]) -> String {
    let names: Vec<String> = t
        .runs_on
        .iter()
        .map(|id| {
            all.iter().find(|c| &c.id == id).map_or_else(
                || id.to_string(),
                |c| {
                    if c.is_group {
                        format!("{} (pod)", c.name)
                    } else {
                        c.name.clone()
                    }
                },
            )
        })
        .collect();
    if names.is_empty() {
        "nothing yet".to_owned()
    } else {
        names.join(", ")
    }
}

async fn list_page(
    state: &AppState,
    who: &Signed,
    q: &[(String, String)],
    status: StatusCode,
    d: &Draft,
    error: Option<(String, Option<String>)>,
) -> HttpResponse {
    let text = param(q, "q").map(|t| {
        t.chars()
            .take(crate::store::subscribers::MAX_PREFIX)
            .collect::<String>()
    });
    let page = param(q, "page")
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, 10_000);
    let db = state.store.db();
    let loaded = async {
        let mut rows = tenants::list(
            db,
            state.store.page_id(),
            text.as_deref(),
            PAGE_SIZE + 1,
            (page - 1) * PAGE_SIZE,
        )
        .await?;
        let all = components::list(db, state.store.page_id()).await?;
        let more = rows.len() as u64 > PAGE_SIZE;
        rows.truncate(usize::try_from(PAGE_SIZE).unwrap_or(50));
        Ok::<_, StoreError>((rows, more, all))
    }
    .await;
    let (rows, more, all) = match loaded {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "the console tenants page");
            return pages::unavailable(state);
        }
    };
    let link = |n: u64| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        if let Some(t) = &text {
            ser.append_pair("q", t);
        }
        ser.append_pair("page", &n.to_string());
        format!("{}/admin/tenants?{}", state.base, ser.finish())
    };
    let notice = match param(q, "done") {
        Some("imported") => Some(format!(
            "Imported {} tenants; {} were already there.",
            param(q, "created")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0),
            param(q, "skipped")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        )),
        Some("deleted") => Some("The tenant is deleted.".to_owned()),
        _ => None,
    };
    let view = ListView {
        layout: frame(state, "Tenants", Some(who), "tenants"),
        q: text.clone().unwrap_or_default(),
        rows: rows
            .iter()
            .map(|t| Row {
                id: t.id.to_string(),
                name: t.name.clone(),
                runs_on: runs_on_text(t, &all),
                emails: t
                    .contacts
                    .iter()
                    .filter(|c| c.kind == Channel::Email)
                    .count(),
                webhooks: t
                    .contacts
                    .iter()
                    .filter(|c| c.kind == Channel::Webhook)
                    .count(),
            })
            .collect(),
        next: more.then(|| link(page + 1)),
        previous: (page > 1).then(|| link(page - 1)),
        page,
        form: form_view(d, &all),
        notice,
        error_field: error.as_ref().and_then(|(_, f)| f.clone()),
        error: error.map(|(m, _)| m),
        can_admin: who.is_admin(),
    };
    render(state, status, "admin/tenants", &view)
}

pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
) -> HttpResponse {
    let q = query_of(&req);
    list_page(&state, &who, &q, StatusCode::OK, &Draft::default(), None).await
}

/// Creates a tenant as `POST .../tenants` does.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn create(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let d = Draft::read(&p.form);
    let made = async {
        let all = components::list(state.store.db(), state.store.page_id()).await?;
        let b = d.body(&all);
        check_webhooks(&state, &b).await?;
        let c = changes(b, None);
        commit(&state, &p.who.actor, async |w| tenants::create(w, c).await)
            .await
            .map_err(|e| e.in_body("tenant"))
    }
    .await;
    match made {
        Ok((t, shown)) => {
            shown.wait(&state).await;
            if t.fresh_secrets.is_empty() {
                see_other(format!(
                    "{}/admin/tenants/{}?done=created",
                    state.base, t.id
                ))
            } else {
                tenant_page(
                    &state,
                    &p.who,
                    &t.id,
                    Extra::secrets(&t, "The tenant is created."),
                )
                .await
            }
        }
        Err(e) => {
            let field = field_of(&e);
            list_page(
                &state,
                &p.who,
                &[],
                StatusCode::UNPROCESSABLE_ENTITY,
                &d,
                Some((said(&e), field)),
            )
            .await
        }
    }
}

#[derive(Serialize)]
struct OneView {
    layout: Frame,
    id: String,
    name: String,
    runs_on: String,
    emails: Vec<String>,
    webhooks: Vec<String>,
    calendar_url: String,
    form: FormView,
    secrets: Vec<Secret>,
    notice: Option<String>,
    error: Option<String>,
    error_field: Option<String>,
    can_admin: bool,
}

struct Extra {
    status: StatusCode,
    d: Option<Draft>,
    secrets: Vec<Secret>,
    notice: Option<String>,
    error: Option<(String, Option<String>)>,
}

impl Extra {
    fn none() -> Extra {
        Extra {
            status: StatusCode::OK,
            d: None,
            secrets: Vec::new(),
            notice: None,
            error: None,
        }
    }

    fn secrets(t: &Tenant, notice: &str) -> Extra {
        Extra {
            secrets: t
                .fresh_secrets
                .iter()
                .map(|(url, secret)| Secret {
                    url: url.clone(),
                    secret: secret.clone(),
                })
                .collect(),
            notice: Some(format!(
                "{notice} Each new webhook's signing secret is below; it is shown only this once."
            )),
            ..Extra::none()
        }
    }
}

async fn tenant_page(state: &AppState, who: &Signed, id: &TenantId, x: Extra) -> HttpResponse {
    let db = state.store.db();
    let loaded = async {
        let t = tenants::get(db, id).await?;
        let all = components::list(db, state.store.page_id()).await?;
        Ok::<_, StoreError>((t, all))
    }
    .await;
    let (t, all) = match loaded {
        Ok(x) => x,
        Err(StoreError::NotFound { .. }) => return pages::not_found(state, Some(who), "tenant"),
        Err(e) => {
            tracing::error!(error = %e, "the console tenant page");
            return pages::unavailable(state);
        }
    };
    let d = x.d.clone().unwrap_or_else(|| Draft::of(&t));
    let of = |k: Channel| {
        t.contacts
            .iter()
            .filter(|c| c.kind == k)
            .map(|c| c.address.clone())
            .collect::<Vec<_>>()
    };
    let view = OneView {
        layout: frame(state, &t.name, Some(who), "tenants"),
        id: t.id.to_string(),
        name: t.name.clone(),
        runs_on: runs_on_text(&t, &all),
        emails: of(Channel::Email),
        webhooks: of(Channel::Webhook),
        calendar_url: state.notifier.links().calendar_url(t.id.as_str()),
        form: form_view(&d, &all),
        secrets: x.secrets,
        notice: x.notice,
        error_field: x.error.as_ref().and_then(|(_, f)| f.clone()),
        error: x.error.map(|(m, _)| m),
        can_admin: who.is_admin(),
    };
    render(state, x.status, "admin/tenant", &view)
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let id = TenantId::from(path.into_inner());
    let q = query_of(&req);
    let mut x = Extra::none();
    x.notice = match param(&q, "done") {
        Some("created") => Some("The tenant is created.".to_owned()),
        Some("saved") => Some("The tenant is saved.".to_owned()),
        _ => None,
    };
    tenant_page(&state, &who, &id, x).await
}

/// Saves the tenant (`action=save`, as `PUT .../tenants/{id}` does) or deletes it
/// (`action=delete` only); anything else changes nothing.
#[tracing::instrument(skip_all, fields(user = %p.who.user.id, tenant))]
pub async fn submit(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = TenantId::from(path.into_inner());
    tracing::Span::current().record("tenant", id.as_str());
    match p.form.str("action") {
        "save" => save(&state, &p, &id).await,
        "delete" => {
            let gone = commit(&state, &p.who.actor, async |w| {
                tenants::delete(w, &id).await
            })
            .await;
            match gone {
                Ok((_, shown)) => {
                    shown.wait(&state).await;
                    see_other(format!("{}/admin/tenants?done=deleted", state.base))
                }
                Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "tenant"),
                Err(e) => {
                    let mut x = Extra::none();
                    x.status = StatusCode::UNPROCESSABLE_ENTITY;
                    x.error = Some((said(&e), None));
                    tenant_page(&state, &p.who, &id, x).await
                }
            }
        }
        _ => {
            let mut x = Extra::none();
            x.error = Some((
                "Nothing was changed: press Save to keep your changes, or Delete to delete the tenant.".to_owned(),
                None,
            ));
            tenant_page(&state, &p.who, &id, x).await
        }
    }
}

async fn save(state: &AppState, p: &Posted, id: &TenantId) -> HttpResponse {
    let d = Draft::read(&p.form);
    let saved = async {
        let current = tenants::get(state.store.db(), id).await?;
        let all = components::list(state.store.db(), state.store.page_id()).await?;
        let b = d.body(&all);
        check_webhooks(state, &b).await?;
        let c = changes(b, Some(&current));
        commit(state, &p.who.actor, async |w| {
            tenants::update(w, id, c).await
        })
        .await
        .map_err(|e| e.in_body("tenant"))
    }
    .await;
    match saved {
        Ok((t, shown)) => {
            shown.wait(state).await;
            if t.fresh_secrets.is_empty() {
                see_other(format!("{}/admin/tenants/{id}?done=saved", state.base))
            } else {
                tenant_page(
                    state,
                    &p.who,
                    id,
                    Extra::secrets(&t, "The tenant is saved."),
                )
                .await
            }
        }
        Err(ApiError::NotFound(_)) => pages::not_found(state, Some(&p.who), "tenant"),
        Err(e) => {
            let field = field_of(&e);
            let x = Extra {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                d: Some(d),
                secrets: Vec::new(),
                notice: None,
                error: Some((said(&e), field)),
            };
            tenant_page(state, &p.who, id, x).await
        }
    }
}

pub async fn import_form(state: web::Data<AppState>, Viewing(who): Viewing) -> HttpResponse {
    import_page(&state, &who, Kind::Tenants, None, false).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id))]
pub async fn import(state: web::Data<AppState>, p: Posted) -> HttpResponse {
    let write = p.form.str("action") == "import";
    import_page(
        &state,
        &p.who,
        Kind::Tenants,
        Some(p.form.str("csv")),
        write,
    )
    .await
}
