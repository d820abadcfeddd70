//! Tenants (Herald's addition, in the Statuspage style): customer organisations with
//! their contacts and the components or groups they run on.

use actix_web::{HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, created, ok, write};
use crate::app::AppState;
use crate::domain::{
    Channel, ComponentId,
    Role::{Admin, Responder},
    TenantId,
};
use crate::http::{
    body::{Envelope, Enveloped},
    error::ApiError,
    routes::RouteTable,
};
use crate::store::{
    Actor,
    tenants::{self, Contact, Tenant, TenantChanges},
};

pub fn routes(t: &mut RouteTable) {
    use Method as M;
    let base = "/v1/pages/{page_id}/tenants";
    let one = "/v1/pages/{page_id}/tenants/{tenant_id}";
    let tag = "tenants";
    t.add(
        M::GET,
        base,
        Responder,
        tag,
        "List tenants (q searches names; page, per_page)",
        list,
    )
    .query::<ListQuery>()
    .returns_list::<TenantDoc>();
    t.add(
        M::POST,
        base,
        Admin,
        tag,
        "Create a tenant: name, contacts and the components or groups it runs on",
        create,
    )
    .created()
    .body::<TenantBody>()
    .returns::<TenantDoc>();
    t.add(M::GET, one, Responder, tag, "Get a tenant", get)
        .returns::<TenantDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(m, one, Admin, tag, "Update a tenant", update)
            .body::<TenantBody>()
            .returns::<TenantDoc>();
    }
    t.add(M::DELETE, one, Admin, tag, "Delete a tenant", delete)
        .returns::<TenantDoc>();
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct TenantBody {
    #[schemars(length(min = 1, max = 255), regex(pattern = crate::http::routes::NAME_PATTERN))]
    pub name: Option<String>,
    /// Email contacts; replaces the current ones.
    pub emails: Option<Vec<String>>,
    /// Webhook contacts (URLs); replaces the current ones.
    pub webhooks: Option<Vec<String>>,
    /// Components it runs on; with `group_ids`, replaces the current ones.
    pub component_ids: Option<Vec<ComponentId>>,
    /// Groups (pods) it runs on: their components now and later.
    pub group_ids: Option<Vec<ComponentId>>,
}

impl Enveloped for TenantBody {
    const KEY: &'static str = "tenant";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TenantDoc {
    pub id: TenantId,
    pub name: String,
    pub emails: Vec<String>,
    pub webhooks: Vec<String>,
    pub component_ids: Vec<ComponentId>,
    pub group_ids: Vec<ComponentId>,
    pub created_at: String,
    pub updated_at: String,
    /// Herald: the tenant's own maintenance calendar (iCalendar), listing only what
    /// touches its components; unguessable, to hand to the tenant.
    pub calendar_url: String,
    /// Herald: the signing secrets (`whsec_...`) of webhooks this request added, by URL;
    /// shown only here, once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secrets: Option<std::collections::BTreeMap<String, String>>,
}

fn doc(view: &View, links: &crate::notify::links::Links, t: Tenant) -> TenantDoc {
    let index = view.index();
    let (groups, comps): (Vec<ComponentId>, Vec<ComponentId>) = t
        .runs_on
        .into_iter()
        .partition(|id| index.get(id).is_some_and(|c| c.is_group));
    let of = |k: Channel| {
        t.contacts
            .iter()
            .filter(|c| c.kind == k)
            .map(|c| c.address.clone())
            .collect()
    };
    TenantDoc {
        calendar_url: links.calendar_url(t.id.as_str()),
        emails: of(Channel::Email),
        webhooks: of(Channel::Webhook),
        id: t.id,
        name: t.name,
        component_ids: comps,
        group_ids: groups,
        created_at: view.ctx.ts(t.created_at),
        updated_at: view.ctx.ts(t.updated_at),
        signing_secrets: (!t.fresh_secrets.is_empty())
            .then(|| t.fresh_secrets.iter().cloned().collect()),
    }
}

/// The body as changes: contacts replaced when either list is given (the other kind is
/// kept from `current`), components when either id list is.
pub fn changes(b: TenantBody, current: Option<&Tenant>) -> TenantChanges {
    let keep = |k: Channel| -> Vec<Contact> {
        current
            .map(|t| t.contacts.iter().filter(|c| c.kind == k).cloned().collect())
            .unwrap_or_default()
    };
    let contacts = (b.emails.is_some() || b.webhooks.is_some()).then(|| {
        let emails = match b.emails {
            Some(list) => list
                .into_iter()
                .map(|a| Contact {
                    kind: Channel::Email,
                    address: a,
                })
                .collect(),
            None => keep(Channel::Email),
        };
        let hooks = match b.webhooks {
            Some(list) => list
                .into_iter()
                .map(|a| Contact {
                    kind: Channel::Webhook,
                    address: a,
                })
                .collect(),
            None => keep(Channel::Webhook),
        };
        [emails, hooks].concat()
    });
    let runs_on = (b.component_ids.is_some() || b.group_ids.is_some()).then(|| {
        [
            b.component_ids.unwrap_or_default(),
            b.group_ids.unwrap_or_default(),
        ]
        .concat()
    });
    TenantChanges {
        name: b.name,
        contacts,
        runs_on,
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListQuery {
    #[schemars(length(max = 200))]
    pub q: Option<String>,
    #[schemars(range(max = u64::MAX))]
    pub page: Option<u64>,
    #[schemars(range(max = u64::MAX))]
    pub per_page: Option<u64>,
}

pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let per = q.per_page.unwrap_or(100).clamp(1, 100);
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    if q.q
        .as_deref()
        .is_some_and(|t| t.chars().count() > super::MAX_QUERY)
    {
        return Err(ApiError::invalid(
            "q",
            format!("q must be at most {} characters", super::MAX_QUERY),
        ));
    }
    let view = View::load(&state).await?;
    let all = tenants::list(
        state.store.db(),
        state.store.page_id(),
        q.q.as_deref(),
        per,
        (page - 1) * per,
    )
    .await?;
    Ok(ok(&all
        .into_iter()
        .map(|t| doc(&view, state.notifier.links(), t))
        .collect::<Vec<_>>()))
}

/// Refuses webhooks Herald must not send to (422 naming `tenant.webhooks.N`).
pub(crate) async fn check_webhooks(state: &AppState, b: &TenantBody) -> Result<(), ApiError> {
    for (n, url) in b.webhooks.iter().flatten().enumerate() {
        crate::notify::webhook::check_endpoint(url, state.notifier.webhook_allow())
            .await
            .map_err(|r| {
                ApiError::invalid(
                    format!("tenant.webhooks.{n}"),
                    format!("endpoint refused: {r}"),
                )
            })?;
    }
    Ok(())
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<TenantBody>,
) -> Result<HttpResponse, ApiError> {
    check_webhooks(&state, &b).await?;
    let c = changes(b, None);
    let t = write(&state, &actor, async |w| tenants::create(w, c).await)
        .await
        .map_err(|e| e.in_body("tenant"))?;
    let view = View::load(&state).await?;
    Ok(created(&doc(&view, state.notifier.links(), t)))
}

type One = web::Path<(String, String)>;

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let t = tenants::get(state.store.db(), &TenantId::from(id)).await?;
    let view = View::load(&state).await?;
    Ok(ok(&doc(&view, state.notifier.links(), t)))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<TenantBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let id = TenantId::from(id);
    let current = tenants::get(state.store.db(), &id).await?;
    check_webhooks(&state, &b).await?;
    let c = changes(b, Some(&current));
    let t = write(&state, &actor, async |w| tenants::update(w, &id, c).await)
        .await
        .map_err(|e| e.in_body("tenant"))?;
    let view = View::load(&state).await?;
    Ok(ok(&doc(&view, state.notifier.links(), t)))
}

pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let id = TenantId::from(id);
    let view = View::load(&state).await?;
    let t = write(&state, &actor, async |w| tenants::delete(w, &id).await).await?;
    Ok(ok(&doc(&view, state.notifier.links(), t)))
}
