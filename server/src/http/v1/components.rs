use actix_web::{HttpResponse, http::Method, web};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, created, nullable, ok, write};
use crate::app::AppState;
use crate::domain::{
    ComponentId, ComponentStatus, PageId,
    Role::{Responder, Viewer},
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
    components::{self, ComponentPatch, NewComponent},
};

pub fn routes(t: &mut RouteTable) {
    use Method as M;
    let base = "/v1/pages/{page_id}/components";
    let one = "/v1/pages/{page_id}/components/{component_id}";
    t.add(
        M::GET,
        base,
        Viewer,
        "components",
        "List components (groups included)",
        list,
    )
    .returns_list::<ComponentDoc>();
    t.add(
        M::POST,
        base,
        Responder,
        "components",
        "Create a component",
        create,
    )
    .body::<ComponentBody>()
    .returns::<ComponentDoc>();
    t.add(M::GET, one, Viewer, "components", "Get a component", get)
        .returns::<ComponentDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            one,
            Responder,
            "components",
            "Update a component: rename, move, reorder, set status",
            update,
        )
        .body::<ComponentBody>()
        .returns::<ComponentDoc>();
    }
    t.add(
        M::DELETE,
        one,
        Responder,
        "components",
        "Delete a component",
        delete,
    )
    .returns::<ComponentDoc>();
    t.add(
        M::GET,
        "/v1/pages/{page_id}/components/{component_id}/status-history",
        Viewer,
        "components",
        "A component's status changes, oldest first",
        history,
    )
    .returns_list::<StatusChangeDoc>();

    let gbase = "/v1/pages/{page_id}/component-groups";
    let gone = "/v1/pages/{page_id}/component-groups/{group_id}";
    t.add(
        M::GET,
        gbase,
        Viewer,
        "component groups",
        "List component groups",
        list_groups,
    )
    .returns_list::<GroupDoc>();
    t.add(
        M::POST,
        gbase,
        Responder,
        "component groups",
        "Create a component group",
        create_group,
    )
    .body::<GroupBody>()
    .returns::<GroupDoc>();
    t.add(
        M::GET,
        gone,
        Viewer,
        "component groups",
        "Get a component group",
        get_group,
    )
    .returns::<GroupDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            gone,
            Responder,
            "component groups",
            "Update a component group: rename, reorder, change members",
            update_group,
        )
        .body::<GroupBody>()
        .returns::<GroupDoc>();
    }
    t.add(
        M::DELETE,
        gone,
        Responder,
        "component groups",
        "Delete a group (its components stay)",
        delete_group,
    )
    .returns::<GroupDoc>();
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ComponentBody {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    pub status: Option<ComponentStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub group_id: Option<Option<ComponentId>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub showcase: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub only_show_if_degraded: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub start_date: Option<Option<NaiveDate>>,
    /// 1-based place among all components; the others move to make room.
    #[serde(default, deserialize_with = "lenient::opt_i32")]
    pub position: Option<i32>,
}

impl Enveloped for ComponentBody {
    const KEY: &'static str = "component";
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GroupBody {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    /// The ids of the components in the group; replaces the current members.
    pub components: Option<Vec<ComponentId>>,
    #[serde(default, deserialize_with = "lenient::opt_i32")]
    pub position: Option<i32>,
}

impl Enveloped for GroupBody {
    const KEY: &'static str = "component_group";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GroupDoc {
    pub id: ComponentId,
    pub page_id: PageId,
    pub name: String,
    pub description: Option<String>,
    pub components: Vec<ComponentId>,
    pub position: i32,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusChangeDoc {
    pub component_id: ComponentId,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
    pub incident_id: Option<crate::domain::IncidentId>,
    pub at: String,
}

type One = web::Path<(String, String)>;

fn component_id(path: One) -> ComponentId {
    ComponentId::from(path.into_inner().1)
}

fn component_doc(view: &View, id: &ComponentId) -> Result<ComponentDoc, ApiError> {
    let index = view.index();
    let c = index
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("component '{id}' was not found")))?;
    Ok(index.doc(c, &view.ctx, Flavor::Manage))
}

fn group_doc(view: &View, id: &ComponentId) -> Result<GroupDoc, ApiError> {
    let index = view.index();
    let g = index
        .get(id)
        .filter(|c| c.is_group)
        .ok_or_else(|| ApiError::NotFound(format!("component group '{id}' was not found")))?;
    Ok(GroupDoc {
        id: g.id.clone(),
        page_id: g.page_id.clone(),
        name: g.name.clone(),
        description: g.description.clone(),
        components: index.children(&g.id).iter().map(|c| c.id.clone()).collect(),
        position: g.position,
        created_at: view.ctx.ts(g.created_at),
        updated_at: view.ctx.ts(g.updated_at),
    })
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    Ok(ok(&view.index().docs(&view.ctx, Flavor::Manage)))
}

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let id = &component_id(path);
    if view.index().get(id).is_some_and(|c| c.is_group) {
        return Err(ApiError::NotFound(format!(
            "component '{id}' was not found"
        )));
    }
    Ok(ok(&component_doc(&view, id)?))
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<ComponentBody>,
) -> Result<HttpResponse, ApiError> {
    let Some(name) = b.name else {
        return Err(ApiError::invalid(
            "component.name",
            "component.name is required",
        ));
    };
    let new = NewComponent {
        name,
        description: b.description.flatten(),
        status: b.status,
        group_id: b.group_id.flatten(),
        showcase: b.showcase,
        only_show_if_degraded: b.only_show_if_degraded,
        start_date: b.start_date.flatten(),
        position: b.position,
        is_group: false,
        members: Vec::new(),
    };
    let c = write(&state, &actor, async |w| components::create(w, new).await)
        .await
        .map_err(|e| e.in_body(ComponentBody::KEY))?;
    Ok(created(&component_doc(&View::load(&state).await?, &c.id)?))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<ComponentBody>,
) -> Result<HttpResponse, ApiError> {
    let id = component_id(path);
    let patch = ComponentPatch {
        name: b.name,
        description: b.description,
        status: b.status,
        group_id: b.group_id,
        showcase: b.showcase,
        only_show_if_degraded: b.only_show_if_degraded,
        start_date: b.start_date,
        position: b.position,
        members: None,
    };
    write(&state, &actor, async |w| {
        components::update(w, &id, false, patch).await
    })
    .await
    .map_err(|e| e.in_body(ComponentBody::KEY))?;
    Ok(ok(&component_doc(&View::load(&state).await?, &id)?))
}

pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let id = component_id(path);
    let doc = component_doc(&view, &id)?;
    write(&state, &actor, async |w| {
        components::delete(w, &id, false).await
    })
    .await?;
    Ok(ok(&doc))
}

pub async fn history(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let id = &component_id(path);
    components::get(state.store.db(), id, false).await?;
    let all: Vec<StatusChangeDoc> = components::history(state.store.db(), id)
        .await?
        .into_iter()
        .map(|h| StatusChangeDoc {
            component_id: h.component_id,
            old_status: h.old_status,
            new_status: h.new_status,
            incident_id: h.incident_id,
            at: view.ctx.ts(h.at),
        })
        .collect();
    Ok(ok(&all))
}

pub async fn list_groups(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let groups = view
        .components
        .iter()
        .filter(|c| c.is_group)
        .map(|g| group_doc(&view, &g.id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ok(&groups))
}

pub async fn get_group(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    Ok(ok(&group_doc(
        &View::load(&state).await?,
        &component_id(path),
    )?))
}

pub async fn create_group(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let Some(name) = b.name else {
        return Err(ApiError::invalid(
            "component_group.name",
            "component_group.name is required",
        ));
    };
    let new = NewComponent {
        name,
        description: b.description.flatten(),
        position: b.position,
        is_group: true,
        members: b.components.unwrap_or_default(),
        ..Default::default()
    };
    let g = write(&state, &actor, async |w| components::create(w, new).await)
        .await
        .map_err(|e| e.in_body(GroupBody::KEY))?;
    Ok(created(&group_doc(&View::load(&state).await?, &g.id)?))
}

pub async fn update_group(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Envelope(b): Envelope<GroupBody>,
) -> Result<HttpResponse, ApiError> {
    let id = component_id(path);
    let patch = ComponentPatch {
        name: b.name,
        description: b.description,
        position: b.position,
        members: b.components,
        ..Default::default()
    };
    write(&state, &actor, async |w| {
        components::update(w, &id, true, patch).await
    })
    .await
    .map_err(|e| e.in_body(GroupBody::KEY))?;
    Ok(ok(&group_doc(&View::load(&state).await?, &id)?))
}

pub async fn delete_group(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let id = component_id(path);
    let doc = group_doc(&View::load(&state).await?, &id)?;
    write(&state, &actor, async |w| {
        components::delete(w, &id, true).await
    })
    .await?;
    Ok(ok(&doc))
}
