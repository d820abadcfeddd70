//! Incident templates (Statuspage's `incident_templates`, plus Herald's get, edit,
//! delete, groups and `next_update_minutes`), and their use: an incident create or
//! update that names `template_id` (with `template_vars`) gets its name, body, status,
//! components and promise from the template, explicit fields winning.

use actix_web::{HttpResponse, http::Method, web};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, created, nullable, ok, write};
use crate::app::AppState;
use crate::domain::{
    ComponentId,
    Role::{Admin, Responder},
    template::{self, Facts, Named, Target},
};
use crate::http::{
    body::{Envelope, Enveloped},
    error::ApiError,
    lenient,
    routes::RouteTable,
};
use crate::render::statuspage::{ComponentDoc, Flavor};
use crate::store::{
    Actor,
    incidents::Incident,
    templates::{self, Group, Template, TemplateChanges},
};

pub fn routes(t: &mut RouteTable) {
    use Method as M;
    let base = "/v1/pages/{page_id}/incident_templates";
    let one = "/v1/pages/{page_id}/incident_templates/{template_id}";
    let tag = "incident templates";
    t.add(
        M::GET,
        base,
        Responder,
        tag,
        "List incident templates (page, per_page)",
        list,
    )
    .returns_list::<TemplateDoc>();
    t.add(
        M::POST,
        base,
        Admin,
        tag,
        "Create an incident template; title and body are checked Handlebars texts",
        create,
    )
    .body::<TemplateBody>()
    .returns::<TemplateDoc>();
    t.add(M::GET, one, Responder, tag, "Get an incident template", get)
        .returns::<TemplateDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(m, one, Admin, tag, "Edit an incident template", update)
            .body::<TemplateBody>()
            .returns::<TemplateDoc>();
    }
    t.add(
        M::DELETE,
        one,
        Admin,
        tag,
        "Delete an incident template",
        delete,
    )
    .returns::<TemplateDoc>();
    let gbase = "/v1/pages/{page_id}/incident_template_groups";
    let gone = "/v1/pages/{page_id}/incident_template_groups/{template_group_id}";
    t.add(
        M::GET,
        gbase,
        Responder,
        tag,
        "List template groups",
        list_groups,
    )
    .returns_list::<GroupDoc>();
    t.add(
        M::POST,
        gbase,
        Admin,
        tag,
        "Create a template group",
        create_group,
    )
    .body::<GroupBody>()
    .returns::<GroupDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(m, gone, Admin, tag, "Rename a template group", rename_group)
            .body::<GroupBody>()
            .returns::<GroupDoc>();
    }
    t.add(
        M::DELETE,
        gone,
        Admin,
        tag,
        "Delete a template group (its templates stay, out of any group)",
        delete_group,
    )
    .returns::<GroupDoc>();
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct TemplateBody {
    pub name: Option<String>,
    /// Handlebars: the incident name it fills in.
    pub title: Option<String>,
    /// Handlebars: the update text (Markdown).
    pub body: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub group_id: Option<Option<String>>,
    /// The status an update made with it takes.
    pub update_status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub should_tweet: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub should_send_notifications: Option<bool>,
    /// Herald: the promise the template makes (minutes to the next update); null for none.
    #[serde(default, deserialize_with = "nullable")]
    pub next_update_minutes: Option<Option<u32>>,
    pub component_ids: Option<Vec<ComponentId>>,
}

impl Enveloped for TemplateBody {
    const KEY: &'static str = "template";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TemplateDoc {
    pub id: String,
    pub name: String,
    pub title: String,
    pub body: String,
    pub group_id: Option<String>,
    pub update_status: String,
    pub should_tweet: bool,
    pub should_send_notifications: bool,
    pub next_update_minutes: Option<i32>,
    pub components: Vec<ComponentDoc>,
    pub created_at: String,
    pub updated_at: String,
}

fn doc(view: &View, t: Template) -> TemplateDoc {
    let index = view.index();
    let components = templates::component_ids(&t)
        .iter()
        .filter_map(|id| index.get(id))
        .map(|c| index.doc(c, &view.ctx, Flavor::Manage))
        .collect();
    TemplateDoc {
        components,
        created_at: view.ctx.ts(t.created_at),
        updated_at: view.ctx.ts(t.updated_at),
        id: t.id,
        name: t.name,
        title: t.title,
        body: t.body,
        group_id: t.group_id,
        update_status: t.update_status,
        should_tweet: t.should_tweet,
        should_send_notifications: t.should_send_notifications,
        next_update_minutes: t.next_update_minutes,
    }
}

/// The one conversion from a template body to the store's changes.
pub(crate) fn changes(b: TemplateBody) -> TemplateChanges {
    TemplateChanges {
        name: b.name,
        title: b.title,
        body: b.body,
        group_id: b.group_id,
        update_status: b.update_status,
        should_tweet: b.should_tweet,
        should_send_notifications: b.should_send_notifications,
        next_update_minutes: b.next_update_minutes,
        component_ids: b.component_ids,
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListQuery {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let per = q.per_page.unwrap_or(100).clamp(1, 100);
    let page = q.page.unwrap_or(1).clamp(1, 1_000_000);
    let view = View::load(&state).await?;
    let all = templates::list(
        state.store.db(),
        state.store.page_id(),
        per,
        (page - 1) * per,
    )
    .await?;
    Ok(ok(&all
        .into_iter()
        .map(|t| doc(&view, t))
        .collect::<Vec<_>>()))
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<TemplateBody>,
) -> Result<HttpResponse, ApiError> {
    let c = changes(b);
    let t = write(&state, &actor, async |w| templates::create(w, c).await)
        .await
        .map_err(|e| e.in_body(TemplateBody::KEY))?;
    let view = View::load(&state).await?;
    Ok(created(&doc(&view, t)))
}

type One = web::Path<(String, String)>;

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let t = templates::get(state.store.db(), state.store.page_id(), &id).await?;
    let view = View::load(&state).await?;
    Ok(ok(&doc(&view, t)))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<TemplateBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let c = changes(b);
    let t = write(&state, &actor, async |w| templates::update(w, &id, c).await)
        .await
        .map_err(|e| e.in_body(TemplateBody::KEY))?;
    let view = View::load(&state).await?;
    Ok(ok(&doc(&view, t)))
}

pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let view = View::load(&state).await?;
    let t = write(&state, &actor, async |w| templates::delete(w, &id).await).await?;
    Ok(ok(&doc(&view, t)))
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GroupBody {
    pub name: Option<String>,
}

impl Enveloped for GroupBody {
    const KEY: &'static str = "template_group";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GroupDoc {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

fn group_doc(view: &View, g: Group) -> GroupDoc {
    GroupDoc {
        created_at: view.ctx.ts(g.created_at),
        updated_at: view.ctx.ts(g.updated_at),
        id: g.id,
        name: g.name,
    }
}

pub async fn list_groups(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let all = templates::groups(state.store.db(), state.store.page_id()).await?;
    Ok(ok(&all
        .into_iter()
        .map(|g| group_doc(&view, g))
        .collect::<Vec<_>>()))
}

pub async fn create_group(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let name = b.name.unwrap_or_default();
    let g = write(&state, &actor, async |w| {
        templates::create_group(w, &name).await
    })
    .await
    .map_err(|e| e.in_body(GroupBody::KEY))?;
    let view = View::load(&state).await?;
    Ok(created(&group_doc(&view, g)))
}

pub async fn rename_group(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let name = b.name.unwrap_or_default();
    let g = write(&state, &actor, async |w| {
        templates::rename_group(w, &id, &name).await
    })
    .await
    .map_err(|e| e.in_body(GroupBody::KEY))?;
    let view = View::load(&state).await?;
    Ok(ok(&group_doc(&view, g)))
}

pub async fn delete_group(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let view = View::load(&state).await?;
    let g = write(&state, &actor, async |w| {
        templates::delete_group(w, &id).await
    })
    .await?;
    Ok(ok(&group_doc(&view, g)))
}

/// What a template gives an incident create or update, after explicit fields won.
#[derive(Debug, Default)]
pub struct Filled {
    pub name: Option<String>,
    pub body: Option<String>,
    pub status: Option<crate::domain::IncidentStatus>,
    pub component_ids: Vec<ComponentId>,
    /// The promised time the text states, exactly.
    pub promise: Option<DateTime<Utc>>,
    pub deliver_notifications: bool,
    pub template_name: String,
}

/// What the caller said explicitly, which the template must not override.
pub struct Given<'a> {
    pub name: Option<&'a str>,
    pub body: Option<&'a str>,
    pub status: Option<crate::domain::IncidentStatus>,
    /// Components the body names (then the template's are not used).
    pub components: Vec<ComponentId>,
    pub next_update_in_minutes: Option<u32>,
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub vars: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

/// Renders template `id` for an incident create (`current` None) or update, at `now`;
/// the body escaped for `body_target` (the API posts `Markdown`; the console's form,
/// which a person edits before posting, asks for `Editing`).
pub async fn fill(
    state: &AppState,
    view: &View,
    id: &str,
    given: Given<'_>,
    current: Option<&Incident>,
    now: DateTime<Utc>,
    body_target: Target,
) -> Result<Filled, ApiError> {
    let t = match templates::get(state.store.db(), state.store.page_id(), id).await {
        Ok(t) => t,
        Err(crate::store::StoreError::NotFound { .. }) => {
            return Err(ApiError::invalid(
                "incident.template_id",
                format!("incident template '{id}' does not exist"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    fill_with(view, &t, given, current, now, body_target)
}

/// Renders template `t` (saved or not) with the page's facts: what `fill` does once
/// the template is read. The components it names come in the board's order.
pub fn fill_with(
    view: &View,
    t: &Template,
    given: Given<'_>,
    current: Option<&Incident>,
    now: DateTime<Utc>,
    body_target: Target,
) -> Result<Filled, ApiError> {
    let in_body = |e: crate::domain::DomainError| {
        ApiError::from(crate::store::StoreError::from(e)).in_body("incident")
    };
    let vars =
        template::check_vars(given.vars.unwrap_or(&serde_json::Map::new())).map_err(in_body)?;
    let index = view.index();
    let status = given
        .status
        .or_else(|| templates::status(t))
        .or(current.map(|c| c.status));
    let component_ids = if given.components.is_empty() {
        templates::component_ids(t)
    } else {
        Vec::new()
    };
    let mut named_ids: Vec<ComponentId> = given.components.clone();
    named_ids.extend(component_ids.iter().cloned());
    if named_ids.is_empty()
        && let Some(c) = current
    {
        named_ids.extend(c.components.iter().map(|(id, _)| id.clone()));
    }
    let mut components = Vec::new();
    for id in &named_ids {
        let Some(c) = index.get(id) else { continue };
        let members: Vec<&crate::domain::Component> = if c.is_group {
            index.children(&c.id).to_vec()
        } else {
            vec![c]
        };
        for m in members {
            if components
                .iter()
                .any(|n: &(ComponentId, Named)| n.0 == m.id)
            {
                continue;
            }
            let group = m
                .group_id
                .as_ref()
                .and_then(|g| index.get(g))
                .map(|g| g.name.clone());
            components.push((
                m.id.clone(),
                Named {
                    name: m.name.clone(),
                    group,
                    status: index.status(m).label().to_owned(),
                },
            ));
        }
    }
    // Named as the board lists them, whatever order they were given in.
    let rank: std::collections::HashMap<&ComponentId, usize> = index
        .board_order()
        .into_iter()
        .enumerate()
        .map(|(n, c)| (&c.id, n))
        .collect();
    components.sort_by_key(|(id, _)| rank.get(id).copied().unwrap_or(usize::MAX));
    let minutes = given
        .next_update_in_minutes
        .or_else(|| t.next_update_minutes.and_then(|m| u32::try_from(m).ok()));
    let promise = match (given.next_update_due_at, minutes) {
        (Some(at), _) => Some(at),
        (None, Some(m)) => Some(now + chrono::Duration::minutes(i64::from(m))),
        (None, None) => None,
    };
    let name_now = given
        .name
        .map(str::to_owned)
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default();
    let facts = Facts {
        page_name: view.page.name.clone(),
        page_url: view.page.url.clone(),
        support_url: view.page.support_url.clone().unwrap_or_default(),
        tz: view.ctx.tz,
        incident_name: name_now,
        status: status.map(|s| s.label().to_owned()).unwrap_or_default(),
        impact: current
            .map(|c| c.impact.as_str().to_owned())
            .unwrap_or_default(),
        started: given
            .started_at
            .or_else(|| current.map(|c| c.started_at))
            .or(Some(now)),
        components: components.into_iter().map(|(_, n)| n).collect(),
        next_update: promise.map(|p| {
            let m = u32::try_from((p - now).num_minutes().max(0)).unwrap_or(0);
            (p, minutes.unwrap_or(m))
        }),
        scheduled_for: given
            .scheduled_for
            .or_else(|| current.and_then(|c| c.scheduled_for)),
        scheduled_until: given
            .scheduled_until
            .or_else(|| current.and_then(|c| c.scheduled_until)),
        vars,
    };
    let name = match given.name {
        Some(_) => None,
        None if current.is_some() => None,
        None => Some(
            template::render("template_id", &t.title, &facts, Target::Title).map_err(in_body)?,
        ),
    };
    let body = match given.body {
        Some(_) => None,
        None => {
            Some(template::render("template_id", &t.body, &facts, body_target).map_err(in_body)?)
        }
    };
    Ok(Filled {
        name,
        body,
        status: given.status.or_else(|| templates::status(t)),
        component_ids,
        promise,
        deliver_notifications: t.should_send_notifications,
        template_name: t.name.clone(),
    })
}
