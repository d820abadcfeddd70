//! Components and component groups (a group is a component with `is_group`), their
//! order, and the history of their statuses.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde_json::json;

use super::{
    Result, StoreError, Write,
    entity::{
        component_status_changes as changes, components, incident_components as links, incidents,
    },
    new_id,
};
use crate::domain::{
    Component, ComponentId, ComponentStatus, Event, IncidentId, IncidentStatus, PageId,
    StatusChange, component, holds, text,
};

impl From<components::Model> for Component {
    fn from(m: components::Model) -> Self {
        Component {
            id: m.id,
            page_id: m.page_id,
            name: m.name,
            description: m.description,
            status: m.status,
            is_group: m.is_group,
            group_id: m.group_id,
            position: m.position,
            showcase: m.showcase,
            only_show_if_degraded: m.only_show_if_degraded,
            start_date: m.start_date,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<changes::Model> for StatusChange {
    fn from(m: changes::Model) -> Self {
        StatusChange {
            component_id: m.component_id,
            old_status: m.old_status,
            new_status: m.new_status,
            incident_id: m.incident_id,
            at: m.at,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewComponent {
    pub name: String,
    pub description: Option<String>,
    pub status: Option<ComponentStatus>,
    pub group_id: Option<ComponentId>,
    pub showcase: Option<bool>,
    pub only_show_if_degraded: Option<bool>,
    pub start_date: Option<NaiveDate>,
    pub position: Option<i32>,
    pub is_group: bool,
    /// For a group: the components it holds.
    pub members: Vec<ComponentId>,
}

/// Fields to change; `None` leaves a field alone, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct ComponentPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<ComponentStatus>,
    pub group_id: Option<Option<ComponentId>>,
    pub showcase: Option<bool>,
    pub only_show_if_degraded: Option<bool>,
    pub start_date: Option<Option<NaiveDate>>,
    pub position: Option<i32>,
    /// For a group: replaces its members.
    pub members: Option<Vec<ComponentId>>,
}

/// All components and groups of the page, by position.
pub async fn list(db: &impl ConnectionTrait, page_id: &PageId) -> Result<Vec<Component>> {
    Ok(components::Entity::find()
        .filter(components::Column::PageId.eq(page_id.clone()))
        .filter(components::Column::DeletedAt.is_null())
        .order_by_asc(components::Column::Position)
        .order_by_asc(components::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(Component::from)
        .collect())
}

fn what(group: bool) -> &'static str {
    if group {
        "component group"
    } else {
        "component"
    }
}

async fn find_model(
    db: &impl ConnectionTrait,
    id: &ComponentId,
    group: bool,
) -> Result<components::Model> {
    components::Entity::find_by_id(id.clone())
        .one(db)
        .await?
        .filter(|m| m.is_group == group && m.deleted_at.is_none())
        .ok_or_else(|| StoreError::not_found(what(group), id.as_str()))
}

pub async fn get(db: &impl ConnectionTrait, id: &ComponentId, group: bool) -> Result<Component> {
    Ok(find_model(db, id, group).await?.into())
}

async fn check_group(db: &impl ConnectionTrait, group_id: &ComponentId) -> Result<()> {
    find_model(db, group_id, true)
        .await
        .map(|_| ())
        .map_err(|_| {
            StoreError::invalid(
                "group_id",
                format!("component group '{group_id}' does not exist"),
            )
        })
}

/// The names of the event kinds for a component or a group.
fn created(group: bool, id: &ComponentId, name: &str) -> Event {
    let (id, name) = (id.clone(), name.to_owned());
    if group {
        Event::GroupCreated { id, name }
    } else {
        Event::ComponentCreated { id, name }
    }
}

fn audit_subject(group: bool) -> &'static str {
    if group {
        "component_group"
    } else {
        "component"
    }
}

#[tracing::instrument(skip_all, fields(page = %w.page_id(), component))]
pub async fn create(w: &mut Write, new: NewComponent) -> Result<Component> {
    let name = text::name("name", &new.name)?;
    let description = component::description(new.description.as_deref())?;
    component::check_nesting(new.is_group, new.group_id.as_ref())?;
    if let Some(g) = &new.group_id {
        check_group(w.conn(), g).await?;
    }
    let count = components::Entity::find()
        .filter(components::Column::PageId.eq(w.page_id().clone()))
        .filter(components::Column::DeletedAt.is_null())
        .count(w.conn())
        .await?;
    let id = ComponentId::new(new_id());
    tracing::Span::current().record("component", id.as_str());
    components::ActiveModel {
        id: Set(id.clone()),
        page_id: Set(w.page_id().clone()),
        name: Set(name.clone()),
        description: Set(description),
        status: Set(new.status.unwrap_or(ComponentStatus::Operational)),
        is_group: Set(new.is_group),
        group_id: Set(new.group_id),
        position: Set(i32::try_from(count).unwrap_or(i32::MAX - 1) + 1),
        showcase: Set(new.showcase.unwrap_or(true)),
        only_show_if_degraded: Set(new.only_show_if_degraded.unwrap_or(false)),
        start_date: Set(new.start_date),
        created_at: Set(w.now()),
        updated_at: Set(w.now()),
        deleted_at: Set(None),
    }
    .insert(w.conn())
    .await?;
    if new.is_group {
        set_members(w, &id, &new.members).await?;
    }
    if let Some(p) = new.position {
        reposition(w, &id, p).await?;
    }
    w.record(&[created(new.is_group, &id, &name)]).await?;
    w.audit(
        &format!("{}.create", audit_subject(new.is_group)),
        audit_subject(new.is_group),
        id.as_str(),
        json!({"name": name}),
    )
    .await?;
    get(w.conn(), &id, new.is_group).await
}

#[tracing::instrument(skip_all, fields(page = %w.page_id(), component = %id))]
pub async fn update(
    w: &mut Write,
    id: &ComponentId,
    group: bool,
    patch: ComponentPatch,
) -> Result<Component> {
    let model = find_model(w.conn(), id, group).await?;
    if patch.status.is_some() {
        component::check_settable(group)?;
    }
    let mut am: components::ActiveModel = model.into();
    if let Some(name) = &patch.name {
        am.name = Set(text::name("name", name)?);
    }
    if let Some(d) = &patch.description {
        am.description = Set(component::description(d.as_deref())?);
    }
    if let Some(g) = &patch.group_id {
        component::check_nesting(group, g.as_ref())?;
        if let Some(g) = g {
            check_group(w.conn(), g).await?;
        }
        am.group_id = Set(g.clone());
    }
    if let Some(v) = patch.showcase {
        am.showcase = Set(v);
    }
    if let Some(v) = patch.only_show_if_degraded {
        am.only_show_if_degraded = Set(v);
    }
    if let Some(v) = patch.start_date {
        am.start_date = Set(v);
    }
    am.updated_at = Set(w.now());
    am.update(w.conn()).await?;
    if let Some(members) = &patch.members {
        set_members(w, id, members).await?;
    }
    if let Some(p) = patch.position {
        reposition(w, id, p).await?;
    }
    let event = if group {
        Event::GroupUpdated { id: id.clone() }
    } else {
        Event::ComponentUpdated { id: id.clone() }
    };
    w.record(&[event]).await?;
    w.audit(
        &format!("{}.update", audit_subject(group)),
        audit_subject(group),
        id.as_str(),
        json!({"name": patch.name, "position": patch.position}),
    )
    .await?;
    if let Some(status) = patch.status {
        set_status(w, id, status).await?;
    }
    get(w.conn(), id, group).await
}

/// Sets a component's status by hand (outside any incident) and keeps the change as
/// history.
async fn set_status(w: &mut Write, id: &ComponentId, status: ComponentStatus) -> Result<()> {
    // Read inside the write: the status that counts is the one this transaction sees.
    let current = find_model(w.conn(), id, false).await?.status;
    if current == status {
        return Ok(());
    }
    components::Entity::update_many()
        .col_expr(components::Column::Status, Expr::value(status))
        .col_expr(components::Column::UpdatedAt, Expr::value(w.now()))
        .filter(components::Column::Id.eq(id.clone()))
        .exec(w.conn())
        .await?;
    changes::ActiveModel {
        component_id: Set(id.clone()),
        old_status: Set(current),
        new_status: Set(status),
        incident_id: Set(None),
        at: Set(w.now()),
        ..Default::default()
    }
    .insert(w.conn())
    .await?;
    super::impact::set_by_hand(w.conn(), id, status, w.now()).await?;
    w.record(&[Event::ComponentStatusChanged {
        component_id: id.clone(),
        old_status: current,
        new_status: status,
        incident_id: None,
        notify: true,
    }])
    .await?;
    w.audit(
        "component.set_status",
        "component",
        id.as_str(),
        json!({"old_status": current, "new_status": status}),
    )
    .await
}

/// Makes exactly `members` the components of group `group_id`.
async fn set_members(w: &mut Write, group_id: &ComponentId, members: &[ComponentId]) -> Result<()> {
    if members.len() > component::MAX_MEMBERS {
        return Err(StoreError::invalid(
            "components",
            format!(
                "a group holds at most {} components",
                component::MAX_MEMBERS
            ),
        ));
    }
    let mut seen = HashSet::new();
    let members: Vec<ComponentId> = members
        .iter()
        .filter(|m| seen.insert(*m))
        .cloned()
        .collect();
    let mut found = HashSet::new();
    for chunk in members.chunks(500) {
        for m in components::Entity::find()
            .filter(components::Column::Id.is_in(chunk.iter().cloned()))
            .filter(components::Column::IsGroup.eq(false))
            .filter(components::Column::DeletedAt.is_null())
            .all(w.conn())
            .await?
        {
            found.insert(m.id);
        }
    }
    if let Some(missing) = members.iter().find(|m| !found.contains(*m)) {
        return Err(StoreError::invalid(
            "components",
            format!("component '{missing}' does not exist"),
        ));
    }
    components::Entity::update_many()
        .col_expr(
            components::Column::GroupId,
            Expr::value(None::<ComponentId>),
        )
        .filter(components::Column::GroupId.eq(group_id.clone()))
        .exec(w.conn())
        .await?;
    for chunk in members.chunks(500) {
        components::Entity::update_many()
            .col_expr(components::Column::GroupId, Expr::value(group_id.clone()))
            .col_expr(components::Column::UpdatedAt, Expr::value(w.now()))
            .filter(components::Column::Id.is_in(chunk.iter().cloned()))
            .exec(w.conn())
            .await?;
    }
    Ok(())
}

/// Moves a component to `position` (1-based, clamped) and renumbers the rest.
async fn reposition(w: &mut Write, id: &ComponentId, position: i32) -> Result<()> {
    let mut all = list(w.conn(), w.page_id()).await?;
    let Some(from) = all.iter().position(|c| &c.id == id) else {
        return Err(StoreError::not_found("component", id.as_str()));
    };
    let moved = all.remove(from);
    let to = usize::try_from(position.max(1) - 1)
        .unwrap_or(0)
        .min(all.len());
    all.insert(to, moved);
    for (i, c) in all.iter().enumerate() {
        let want = i32::try_from(i + 1).unwrap_or(i32::MAX);
        if c.position != want {
            components::Entity::update_many()
                .col_expr(components::Column::Position, Expr::value(want))
                .filter(components::Column::Id.eq(c.id.clone()))
                .exec(w.conn())
                .await?;
        }
    }
    Ok(())
}

/// Deletes a component, or a group (its components stay, ungrouped). A component that
/// a live incident holds is kept unless `force`: deleting it would take it out of the
/// incident and its uptime. One that incidents name is hidden rather than removed, so
/// their record (and its periods) survive; it goes when the last of them does.
#[tracing::instrument(skip_all, fields(page = %w.page_id(), component = %id))]
pub async fn delete(
    w: &mut Write,
    id: &ComponentId,
    group: bool,
    force: bool,
) -> Result<Component> {
    let c: Component = find_model(w.conn(), id, group).await?.into();
    if group {
        set_members(w, id, &[]).await?;
    }
    let named_by: Vec<(IncidentId, String, IncidentStatus)> = if group {
        Vec::new()
    } else {
        let ids: Vec<IncidentId> = links::Entity::find()
            .select_only()
            .column(links::Column::IncidentId)
            .filter(links::Column::ComponentId.eq(id.clone()))
            .into_tuple()
            .all(w.conn())
            .await?;
        let mut named = Vec::new();
        for chunk in ids.chunks(500) {
            named.extend(
                incidents::Entity::find()
                    .select_only()
                    .column(incidents::Column::Id)
                    .column(incidents::Column::Name)
                    .column(incidents::Column::Status)
                    .filter(incidents::Column::Id.is_in(chunk.iter().cloned()))
                    .into_tuple::<(IncidentId, String, IncidentStatus)>()
                    .all(w.conn())
                    .await?,
            );
        }
        named
    };
    if !force && let Some((held_by, name, _)) = named_by.iter().find(|(_, _, s)| holds::live(*s)) {
        return Err(StoreError::Conflict(format!(
            "component '{id}' is held by the open incident '{name}' ({held_by}); resolve it first, or delete with force=true to take the component out of it"
        )));
    }
    if named_by.is_empty() {
        components::Entity::delete_by_id(id.clone())
            .exec(w.conn())
            .await?;
        super::impact::forget_component(w.conn(), id).await?;
    } else {
        components::Entity::update_many()
            .col_expr(components::Column::DeletedAt, Expr::value(Some(w.now())))
            .col_expr(
                components::Column::GroupId,
                Expr::value(None::<ComponentId>),
            )
            .filter(components::Column::Id.eq(id.clone()))
            .exec(w.conn())
            .await?;
    }
    let event = if group {
        Event::GroupDeleted {
            id: id.clone(),
            name: c.name.clone(),
        }
    } else {
        Event::ComponentDeleted {
            id: id.clone(),
            name: c.name.clone(),
        }
    };
    w.record(&[event]).await?;
    w.audit(
        &format!("{}.delete", audit_subject(group)),
        audit_subject(group),
        id.as_str(),
        json!({"name": c.name, "force": force, "kept_for_incidents": named_by.len()}),
    )
    .await?;
    Ok(c)
}

/// Removes the hidden components no incident names any more.
pub async fn purge_unreferenced(db: &impl ConnectionTrait) -> Result<()> {
    let hidden: Vec<ComponentId> = components::Entity::find()
        .select_only()
        .column(components::Column::Id)
        .filter(components::Column::DeletedAt.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    for id in hidden {
        let named = links::Entity::find()
            .filter(links::Column::ComponentId.eq(id.clone()))
            .count(db)
            .await?;
        if named == 0 {
            components::Entity::delete_by_id(id.clone())
                .exec(db)
                .await?;
            super::impact::forget_component(db, &id).await?;
        }
    }
    Ok(())
}

/// The status history of a component, oldest first (the source of uptime).
pub async fn history(db: &impl ConnectionTrait, id: &ComponentId) -> Result<Vec<StatusChange>> {
    Ok(changes::Entity::find()
        .filter(changes::Column::ComponentId.eq(id.clone()))
        .order_by_asc(changes::Column::At)
        .order_by_asc(changes::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(StatusChange::from)
        .collect())
}

/// Every status change since `since`, oldest first.
pub async fn changes_since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<StatusChange>> {
    Ok(changes::Entity::find()
        .filter(changes::Column::At.gte(since))
        .order_by_asc(changes::Column::At)
        .order_by_asc(changes::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(StatusChange::from)
        .collect())
}
