//! Statuspage's manage API v1, and Herald's additions under the same prefix.

pub(crate) mod components;
pub(crate) mod deliveries;
mod events;
pub(crate) mod incidents;
pub(crate) mod pages;
mod reports;
pub(crate) mod series;
pub(crate) mod subscribers;
pub(crate) mod templates;
pub(crate) mod tenants;
pub(crate) mod tokens;
pub(crate) mod users;

use actix_web::{HttpResponse, http::Method};
use serde::{Deserialize, Deserializer};

use super::{error::ApiError, routes::RouteTable};
use crate::app::AppState;
use crate::domain::{
    Component,
    Role::{Admin, Viewer},
};
use crate::render::statuspage::{ComponentIndex, PageCtx};
use crate::store::{Actor, Write, pages::Page};

/// Every admin route, in one table.
pub fn table() -> RouteTable {
    use Method as M;
    let mut t = RouteTable::default();
    macro_rules! path {
        ($s:literal) => {
            concat!("/v1/pages/{page_id}", $s)
        };
    }

    t.add(
        M::GET,
        "/v1/pages",
        Viewer,
        "pages",
        "List pages (Herald serves one)",
        pages::list,
    )
    .returns_list::<crate::render::statuspage::PageDoc>();
    t.add(
        M::GET,
        path!(""),
        Viewer,
        "pages",
        "Get the page",
        pages::get,
    )
    .returns::<pages::PageV1>();
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            path!(""),
            Admin,
            "pages",
            "Update the page",
            pages::update,
        )
        .body::<pages::PageBody>()
        .returns::<pages::PageV1>();
    }

    components::routes(&mut t);
    incidents::routes(&mut t);
    subscribers::routes(&mut t);
    tenants::routes(&mut t);
    templates::routes(&mut t);
    reports::routes(&mut t);
    series::routes(&mut t);
    deliveries::routes(&mut t);
    users::routes(&mut t);

    t.add(
        M::GET,
        path!("/api-tokens"),
        Admin,
        "tokens",
        "List API tokens",
        tokens::list,
    )
    .returns_list::<tokens::TokenDoc>();
    t.add(
        M::POST,
        path!("/api-tokens"),
        Admin,
        "tokens",
        "Create an API token (the key is shown once)",
        tokens::create,
    )
    .created()
    .requires(&["name"])
    .secret()
    .body::<tokens::TokenBody>()
    .returns::<tokens::TokenDoc>();
    t.add(
        M::DELETE,
        path!("/api-tokens/{token_id}"),
        Admin,
        "tokens",
        "Revoke an API token",
        tokens::revoke,
    )
    .returns::<tokens::TokenDoc>();
    t.add(
        M::GET,
        path!("/events"),
        Viewer,
        "events",
        "Read the event log in order (backfill)",
        events::list,
    )
    .query::<events::EventQuery>()
    .returns_list::<events::EventDoc>();
    t.add(
        M::GET,
        path!("/audit-log"),
        Admin,
        "events",
        "Read the audit log, newest first",
        events::audit,
    )
    .query::<events::AuditQuery>()
    .returns_list::<events::AuditDoc>();
    t
}

/// What every response that embeds components or times needs: the page and its
/// components.
pub(crate) struct View {
    pub page: Page,
    pub ctx: PageCtx,
    pub components: Vec<Component>,
}

impl View {
    pub async fn load(state: &AppState) -> Result<View, ApiError> {
        let db = state.store.db();
        let page = crate::store::pages::get(db, state.store.page_id()).await?;
        let components = crate::store::components::list(db, state.store.page_id()).await?;
        Ok(View {
            ctx: PageCtx::new(&page),
            page,
            components,
        })
    }

    pub fn index(&self) -> ComponentIndex<'_> {
        ComponentIndex::new(&self.components)
    }
}

/// Runs a change in one write transaction at the clock's time, and answers once the
/// public side shows it.
pub(super) async fn write<T, F>(state: &AppState, actor: &Actor, f: F) -> Result<T, ApiError>
where
    F: AsyncFnOnce(&mut Write) -> Result<T, crate::store::StoreError>,
{
    let (out, shown) = commit(state, actor, f).await?;
    shown.wait(state).await;
    Ok(out)
}

/// A committed change the public side may not show yet.
#[must_use]
pub(crate) struct Shown(Option<i64>);

impl Shown {
    /// Waits until the public side shows it: call it once the answer is ready, so the
    /// answer is prepared while the public snapshot is rebuilt.
    pub async fn wait(self, state: &AppState) {
        state.shown(self.0).await;
    }
}

/// Runs a change in one write transaction at the clock's time.
#[tracing::instrument(skip_all, fields(actor = %actor.name, seq))]
pub(crate) async fn commit<T, F>(
    state: &AppState,
    actor: &Actor,
    f: F,
) -> Result<(T, Shown), ApiError>
where
    F: AsyncFnOnce(&mut Write) -> Result<T, crate::store::StoreError>,
{
    let mut w = state.store.begin(actor, state.clock.now()).await?;
    let out = f(&mut w).await?;
    let seq = w.commit().await?;
    if let Some(seq) = seq {
        tracing::Span::current().record("seq", seq);
    }
    Ok((out, Shown(seq)))
}

pub(super) fn ok<T: serde::Serialize>(v: &T) -> HttpResponse {
    HttpResponse::Ok().json(v)
}

pub(super) fn created<T: serde::Serialize>(v: &T) -> HttpResponse {
    HttpResponse::Created().json(v)
}

/// `Option<Option<T>>` for PATCH bodies: absent leaves a field alone, `null` clears it.
pub(super) fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub(crate) struct Paging {
    #[schemars(range(max = u64::MAX))]
    pub page: Option<u64>,
    #[schemars(range(max = u64::MAX))]
    pub per_page: Option<u64>,
    #[schemars(range(max = u64::MAX))]
    pub limit: Option<u64>,
    #[schemars(length(max = 200))]
    pub q: Option<String>,
    /// Unresolved incidents only: those whose promised update is late.
    #[serde(default, deserialize_with = "crate::http::lenient::opt_bool")]
    pub overdue: Option<bool>,
}

/// The longest search text.
pub(super) const MAX_QUERY: usize = 200;

impl Paging {
    /// The search text, if any; too long a one is refused.
    pub fn query(&self) -> Result<Option<&str>, ApiError> {
        match self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) if q.chars().count() > MAX_QUERY => Err(ApiError::invalid(
                "q",
                format!("q must be at most {MAX_QUERY} characters"),
            )),
            q => Ok(q),
        }
    }

    /// (limit, offset), capped at 100 a page.
    pub fn window(&self) -> (u64, u64) {
        let per = self.per_page.or(self.limit).unwrap_or(100).clamp(1, 100);
        let page = self.page.unwrap_or(1).clamp(1, 100_000);
        (per, (page - 1) * per)
    }
}
