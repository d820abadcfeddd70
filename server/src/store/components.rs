//! Components and component groups (a group is a component with `is_group`), their
//! order, and the history of their statuses.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

use super::{
    Result, StoreError, Write,
    entity::{component_status_changes as changes, components},
    new_id,
};
use crate::domain::ComponentStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub id: String,
    pub page_id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: ComponentStatus,
    pub is_group: bool,
    pub group_id: Option<String>,
    pub position: i32,
    pub showcase: bool,
    pub only_show_if_degraded: bool,
    pub start_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<components::Model> for Component {
    type Error = StoreError;
    fn try_from(m: components::Model) -> Result<Self> {
        Ok(Component {
            status: m.status.parse()?,
            id: m.id,
            page_id: m.page_id,
            name: m.name,
            description: m.description,
            is_group: m.is_group,
            group_id: m.group_id,
            position: m.position,
            showcase: m.showcase,
            only_show_if_degraded: m.only_show_if_degraded,
            start_date: m.start_date,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub component_id: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
    pub incident_id: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewComponent {
    pub name: String,
    pub description: Option<String>,
    pub status: Option<ComponentStatus>,
    pub group_id: Option<String>,
    pub showcase: Option<bool>,
    pub only_show_if_degraded: Option<bool>,
    pub start_date: Option<NaiveDate>,
    pub position: Option<i32>,
    pub is_group: bool,
    /// For a group: the components it holds.
    pub members: Vec<String>,
}

/// Fields to change; `None` leaves a field alone, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct ComponentPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<ComponentStatus>,
    pub group_id: Option<Option<String>>,
    pub showcase: Option<bool>,
    pub only_show_if_degraded: Option<bool>,
    pub start_date: Option<Option<NaiveDate>>,
    pub position: Option<i32>,
    /// For a group: replaces its members.
    pub members: Option<Vec<String>>,
}

/// All components and groups of the page, by position.
pub async fn list(db: &impl ConnectionTrait, page_id: &str) -> Result<Vec<Component>> {
    components::Entity::find()
        .filter(components::Column::PageId.eq(page_id))
        .order_by_asc(components::Column::Position)
        .order_by_asc(components::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(Component::try_from)
        .collect()
}

async fn find_model(db: &impl ConnectionTrait, id: &str, group: bool) -> Result<components::Model> {
    let what = if group {
        "component group"
    } else {
        "component"
    };
    components::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .filter(|m| m.is_group == group)
        .ok_or_else(|| StoreError::not_found(what, id))
}

pub async fn get(db: &impl ConnectionTrait, id: &str, group: bool) -> Result<Component> {
    find_model(db, id, group).await?.try_into()
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::invalid("name", "name must not be empty"));
    }
    if name.chars().count() > 255 {
        return Err(StoreError::invalid(
            "name",
            "name must be at most 255 characters",
        ));
    }
    Ok(name.to_owned())
}

async fn check_group(db: &impl ConnectionTrait, group_id: &str) -> Result<()> {
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

pub async fn create(w: &mut Write, new: NewComponent) -> Result<Component> {
    let name = check_name(&new.name)?;
    if let Some(g) = &new.group_id {
        if new.is_group {
            return Err(StoreError::invalid(
                "group_id",
                "a group cannot be inside another group",
            ));
        }
        check_group(w.conn(), g).await?;
    }
    let existing = list(w.conn(), w.page_id()).await?;
    let id = new_id();
    let model = components::ActiveModel {
        id: Set(id.clone()),
        page_id: Set(w.page_id().to_owned()),
        name: Set(name),
        description: Set(new.description.filter(|d| !d.trim().is_empty())),
        status: Set(new
            .status
            .unwrap_or(ComponentStatus::Operational)
            .as_str()
            .to_owned()),
        is_group: Set(new.is_group),
        group_id: Set(new.group_id),
        position: Set(i32::try_from(existing.len()).unwrap_or(i32::MAX - 1) + 1),
        showcase: Set(new.showcase.unwrap_or(true)),
        only_show_if_degraded: Set(new.only_show_if_degraded.unwrap_or(false)),
        start_date: Set(new.start_date),
        created_at: Set(w.now()),
        updated_at: Set(w.now()),
    }
    .insert(w.conn())
    .await?;
    let what = if new.is_group {
        "component_group"
    } else {
        "component"
    };
    if new.is_group {
        set_members(w, &id, &new.members).await?;
    }
    if let Some(p) = new.position {
        reposition(w, &id, p).await?;
    }
    w.event(
        &format!("{what}.created"),
        what,
        &id,
        json!({"id": id, "name": model.name}),
    )
    .await?;
    w.audit(
        &format!("{what}.create"),
        what,
        &id,
        json!({"name": model.name}),
    )
    .await?;
    get(w.conn(), &id, new.is_group).await
}

pub async fn update(
    w: &mut Write,
    id: &str,
    group: bool,
    patch: ComponentPatch,
) -> Result<Component> {
    let model = find_model(w.conn(), id, group).await?;
    let mut am: components::ActiveModel = model.into();
    if let Some(name) = &patch.name {
        am.name = Set(check_name(name)?);
    }
    if let Some(d) = &patch.description {
        am.description = Set(d.clone().filter(|d| !d.trim().is_empty()));
    }
    if let Some(g) = &patch.group_id {
        if let Some(g) = g {
            if group {
                return Err(StoreError::invalid(
                    "group_id",
                    "a group cannot be inside another group",
                ));
            }
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
    let what = if group {
        "component_group"
    } else {
        "component"
    };
    w.event(&format!("{what}.updated"), what, id, json!({"id": id}))
        .await?;
    w.audit(
        &format!("{what}.update"),
        what,
        id,
        json!({"name": patch.name, "position": patch.position}),
    )
    .await?;
    if let Some(status) = patch.status {
        if group {
            return Err(StoreError::invalid(
                "status",
                "a group's status follows its components",
            ));
        }
        set_status(w, id, status, None).await?;
    }
    get(w.conn(), id, group).await
}

/// Sets a component's status and keeps the change as history. Returns the old status.
pub async fn set_status(
    w: &mut Write,
    component_id: &str,
    status: ComponentStatus,
    incident_id: Option<&str>,
) -> Result<ComponentStatus> {
    // Read inside the write: the status that counts is the one this transaction sees.
    let model = find_model(w.conn(), component_id, false).await?;
    let current: Component = model.clone().try_into()?;
    if current.status == status {
        return Ok(status);
    }
    let mut am: components::ActiveModel = model.into();
    am.status = Set(status.as_str().to_owned());
    am.updated_at = Set(w.now());
    am.update(w.conn()).await?;
    changes::ActiveModel {
        component_id: Set(current.id.clone()),
        old_status: Set(current.status.as_str().to_owned()),
        new_status: Set(status.as_str().to_owned()),
        incident_id: Set(incident_id.map(str::to_owned)),
        at: Set(w.now()),
        ..Default::default()
    }
    .insert(w.conn())
    .await?;
    w.event(
        "component.status_changed",
        "component",
        &current.id,
        json!({"component_id": current.id, "old_status": current.status, "new_status": status, "incident_id": incident_id}),
    )
    .await?;
    w.audit(
        "component.set_status",
        "component",
        &current.id,
        json!({"old_status": current.status, "new_status": status}),
    )
    .await?;
    Ok(current.status)
}

/// Makes exactly `members` the components of group `group_id`.
async fn set_members(w: &mut Write, group_id: &str, members: &[String]) -> Result<()> {
    for m in members {
        let c = find_model(w.conn(), m, false).await.map_err(|_| {
            StoreError::invalid("components", format!("component '{m}' does not exist"))
        })?;
        let mut am: components::ActiveModel = c.into();
        am.group_id = Set(Some(group_id.to_owned()));
        am.updated_at = Set(w.now());
        am.update(w.conn()).await?;
    }
    let current = components::Entity::find()
        .filter(components::Column::GroupId.eq(group_id))
        .all(w.conn())
        .await?;
    for c in current.into_iter().filter(|c| !members.contains(&c.id)) {
        let mut am: components::ActiveModel = c.into();
        am.group_id = Set(None);
        am.update(w.conn()).await?;
    }
    Ok(())
}

/// Moves a component to `position` (1-based, clamped) and renumbers the rest.
async fn reposition(w: &mut Write, id: &str, position: i32) -> Result<()> {
    let mut all = list(w.conn(), w.page_id()).await?;
    let Some(from) = all.iter().position(|c| c.id == id) else {
        return Err(StoreError::not_found("component", id));
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
                .col_expr(
                    components::Column::Position,
                    sea_orm::sea_query::Expr::value(want),
                )
                .filter(components::Column::Id.eq(c.id.clone()))
                .exec(w.conn())
                .await?;
        }
    }
    Ok(())
}

/// Deletes a component, or a group (its components stay, ungrouped).
pub async fn delete(w: &mut Write, id: &str, group: bool) -> Result<Component> {
    let c: Component = find_model(w.conn(), id, group).await?.try_into()?;
    if group {
        set_members(w, id, &[]).await?;
    }
    components::Entity::delete_by_id(id.to_owned())
        .exec(w.conn())
        .await?;
    let what = if group {
        "component_group"
    } else {
        "component"
    };
    w.event(
        &format!("{what}.deleted"),
        what,
        id,
        json!({"id": id, "name": c.name}),
    )
    .await?;
    w.audit(&format!("{what}.delete"), what, id, json!({"name": c.name}))
        .await?;
    Ok(c)
}

impl TryFrom<changes::Model> for StatusChange {
    type Error = StoreError;
    fn try_from(m: changes::Model) -> Result<Self> {
        Ok(StatusChange {
            old_status: m.old_status.parse()?,
            new_status: m.new_status.parse()?,
            component_id: m.component_id,
            incident_id: m.incident_id,
            at: m.at,
        })
    }
}

/// Status changes matching `filter`, oldest first.
async fn changes_where(
    db: &impl ConnectionTrait,
    filter: sea_orm::sea_query::SimpleExpr,
) -> Result<Vec<StatusChange>> {
    changes::Entity::find()
        .filter(filter)
        .order_by_asc(changes::Column::At)
        .order_by_asc(changes::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(StatusChange::try_from)
        .collect()
}

/// The status history of a component, oldest first (the source of uptime).
pub async fn history(db: &impl ConnectionTrait, id: &str) -> Result<Vec<StatusChange>> {
    changes_where(db, changes::Column::ComponentId.eq(id)).await
}

/// Every status change since `since`, oldest first.
pub async fn changes_since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<StatusChange>> {
    changes_where(db, changes::Column::At.gte(since)).await
}
