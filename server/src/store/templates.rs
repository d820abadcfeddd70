//! Incident templates and template groups: stored checked (a template that does not
//! parse or names an unknown variable never reaches an incident), and the shipped set
//! added to every page once.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;

use super::{
    Result, StoreError, Write,
    entity::{incident_templates as templates, pages, template_groups as groups},
    new_id,
    subscribers::check_components,
};
use crate::domain::{
    ComponentId, IncidentStatus, PageId,
    incident::MAX_PROMISE_MINUTES,
    template::{self, Target},
    text,
};

pub type Template = templates::Model;
pub type Group = groups::Model;

/// The most templates (and groups) a page keeps.
pub const MAX_TEMPLATES: u64 = 500;

/// Fields to set; `None` leaves one alone.
#[derive(Debug, Clone, Default)]
pub struct TemplateChanges {
    pub name: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    /// `Some(None)` takes it out of its group.
    pub group_id: Option<Option<String>>,
    pub update_status: Option<String>,
    pub should_tweet: Option<bool>,
    pub should_send_notifications: Option<bool>,
    /// `Some(None)`: promises nothing.
    pub next_update_minutes: Option<Option<u32>>,
    pub component_ids: Option<Vec<ComponentId>>,
}

pub fn component_ids(t: &Template) -> Vec<ComponentId> {
    serde_json::from_str::<Vec<String>>(&t.component_ids)
        .unwrap_or_default()
        .into_iter()
        .map(ComponentId::from)
        .collect()
}

pub fn status(t: &Template) -> Option<IncidentStatus> {
    t.update_status.parse().ok()
}

fn check_status(s: &str) -> Result<String> {
    s.parse::<IncidentStatus>()
        .map(|st| st.as_str().to_owned())
        .map_err(|_| {
            StoreError::invalid(
                "update_status",
                format!(
                    "'{s}' is not an incident or maintenance status (investigating, identified, monitoring, resolved, postmortem, scheduled, in_progress, verifying, completed)"
                ),
            )
        })
}

fn check_minutes(m: Option<u32>) -> Result<Option<i32>> {
    match m {
        None => Ok(None),
        Some(m) if m == 0 || m > MAX_PROMISE_MINUTES => Err(StoreError::invalid(
            "next_update_minutes",
            format!("must be between 1 and {MAX_PROMISE_MINUTES} minutes"),
        )),
        Some(m) => Ok(Some(i32::try_from(m).unwrap_or(i32::MAX))),
    }
}

async fn check_group(db: &impl ConnectionTrait, page: &PageId, id: &str) -> Result<()> {
    groups::Entity::find_by_id(id.to_owned())
        .filter(groups::Column::PageId.eq(page.clone()))
        .one(db)
        .await?
        .map(|_| ())
        .ok_or_else(|| {
            StoreError::invalid("group_id", format!("template group '{id}' does not exist"))
        })
}

async fn count(db: &impl ConnectionTrait, page: &PageId) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(templates::Entity::find()
        .filter(templates::Column::PageId.eq(page.clone()))
        .count(db)
        .await?)
}

pub async fn create(w: &mut Write, c: TemplateChanges) -> Result<Template> {
    let existing = count(w.conn(), w.page_id()).await?;
    if existing >= MAX_TEMPLATES {
        return Err(StoreError::invalid(
            "name",
            format!("a page keeps at most {MAX_TEMPLATES} templates"),
        ));
    }
    let name = text::name("name", c.name.as_deref().unwrap_or_default())?;
    let title = c.title.unwrap_or_default();
    template::check("title", &title, Target::Title)?;
    let body = c.body.unwrap_or_default();
    template::check("body", &body, Target::Markdown)?;
    let update_status = check_status(c.update_status.as_deref().unwrap_or("investigating"))?;
    let minutes = check_minutes(c.next_update_minutes.flatten())?;
    let group_id = c.group_id.flatten();
    if let Some(g) = &group_id {
        check_group(w.conn(), w.page_id(), g).await?;
    }
    let comps = check_components(
        w.conn(),
        w.page_id(),
        c.component_ids.as_deref().unwrap_or_default(),
        "component_ids",
    )
    .await?;
    let now = w.now();
    let row = templates::ActiveModel {
        id: Set(new_id()),
        page_id: Set(w.page_id().clone()),
        group_id: Set(group_id),
        name: Set(name),
        title: Set(title),
        body: Set(body),
        update_status: Set(update_status),
        should_tweet: Set(c.should_tweet.unwrap_or(false)),
        should_send_notifications: Set(c.should_send_notifications.unwrap_or(true)),
        next_update_minutes: Set(minutes),
        component_ids: Set(json!(comps).to_string()),
        position: Set(i32::try_from(existing).unwrap_or(0)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(w.conn())
    .await?;
    w.audit(
        "template.create",
        "incident_template",
        &row.id,
        json!({"name": row.name}),
    )
    .await?;
    Ok(row)
}

pub async fn get(db: &impl ConnectionTrait, page: &PageId, id: &str) -> Result<Template> {
    templates::Entity::find_by_id(id.to_owned())
        .filter(templates::Column::PageId.eq(page.clone()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("incident template", id))
}

pub async fn list(
    db: &impl ConnectionTrait,
    page: &PageId,
    limit: u64,
    offset: u64,
) -> Result<Vec<Template>> {
    Ok(templates::Entity::find()
        .filter(templates::Column::PageId.eq(page.clone()))
        .order_by_asc(templates::Column::Position)
        .order_by_asc(templates::Column::CreatedAt)
        .limit(limit)
        .offset(offset)
        .all(db)
        .await?)
}

pub async fn update(w: &mut Write, id: &str, c: TemplateChanges) -> Result<Template> {
    let current = get(w.conn(), w.page_id(), id).await?;
    let mut am: templates::ActiveModel = current.into();
    if let Some(n) = &c.name {
        am.name = Set(text::name("name", n)?);
    }
    if let Some(t) = c.title {
        template::check("title", &t, Target::Title)?;
        am.title = Set(t);
    }
    if let Some(b) = c.body {
        template::check("body", &b, Target::Markdown)?;
        am.body = Set(b);
    }
    if let Some(s) = &c.update_status {
        am.update_status = Set(check_status(s)?);
    }
    if let Some(m) = c.next_update_minutes {
        am.next_update_minutes = Set(check_minutes(m)?);
    }
    if let Some(g) = c.group_id {
        if let Some(g) = &g {
            check_group(w.conn(), w.page_id(), g).await?;
        }
        am.group_id = Set(g);
    }
    if let Some(ids) = &c.component_ids {
        let comps = check_components(w.conn(), w.page_id(), ids, "component_ids").await?;
        am.component_ids = Set(json!(comps).to_string());
    }
    if let Some(b) = c.should_tweet {
        am.should_tweet = Set(b);
    }
    if let Some(b) = c.should_send_notifications {
        am.should_send_notifications = Set(b);
    }
    am.updated_at = Set(w.now());
    let row = am.update(w.conn()).await?;
    w.audit("template.update", "incident_template", id, json!({}))
        .await?;
    Ok(row)
}

pub async fn delete(w: &mut Write, id: &str) -> Result<Template> {
    let t = get(w.conn(), w.page_id(), id).await?;
    templates::Entity::delete_by_id(id.to_owned())
        .exec(w.conn())
        .await?;
    w.audit(
        "template.delete",
        "incident_template",
        id,
        json!({"name": t.name}),
    )
    .await?;
    Ok(t)
}

pub async fn groups(db: &impl ConnectionTrait, page: &PageId) -> Result<Vec<Group>> {
    Ok(groups::Entity::find()
        .filter(groups::Column::PageId.eq(page.clone()))
        .order_by_asc(groups::Column::Name)
        .limit(MAX_TEMPLATES)
        .all(db)
        .await?)
}

pub async fn get_group(db: &impl ConnectionTrait, page: &PageId, id: &str) -> Result<Group> {
    groups::Entity::find_by_id(id.to_owned())
        .filter(groups::Column::PageId.eq(page.clone()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("template group", id))
}

pub async fn create_group(w: &mut Write, name: &str) -> Result<Group> {
    if groups(w.conn(), w.page_id()).await?.len() as u64 >= MAX_TEMPLATES {
        return Err(StoreError::invalid(
            "name",
            format!("a page keeps at most {MAX_TEMPLATES} template groups"),
        ));
    }
    let now = w.now();
    let g = groups::ActiveModel {
        id: Set(new_id()),
        page_id: Set(w.page_id().clone()),
        name: Set(text::name("name", name)?),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(w.conn())
    .await?;
    w.audit(
        "template_group.create",
        "template_group",
        &g.id,
        json!({"name": g.name}),
    )
    .await?;
    Ok(g)
}

pub async fn rename_group(w: &mut Write, id: &str, name: &str) -> Result<Group> {
    let g = get_group(w.conn(), w.page_id(), id).await?;
    let mut am: groups::ActiveModel = g.into();
    am.name = Set(text::name("name", name)?);
    am.updated_at = Set(w.now());
    let g = am.update(w.conn()).await?;
    w.audit(
        "template_group.update",
        "template_group",
        id,
        json!({"name": g.name}),
    )
    .await?;
    Ok(g)
}

/// Deletes a group; its templates stay, out of any group.
pub async fn delete_group(w: &mut Write, id: &str) -> Result<Group> {
    let g = get_group(w.conn(), w.page_id(), id).await?;
    templates::Entity::update_many()
        .col_expr(
            templates::Column::GroupId,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(templates::Column::GroupId.eq(id.to_owned()))
        .exec(w.conn())
        .await?;
    groups::Entity::delete_by_id(id.to_owned())
        .exec(w.conn())
        .await?;
    w.audit(
        "template_group.delete",
        "template_group",
        id,
        json!({"name": g.name}),
    )
    .await?;
    Ok(g)
}

/// Adds the shipped templates to a page that never had them (at start, in the
/// transaction that opens the page).
pub(super) async fn seed_once(
    db: &impl ConnectionTrait,
    page: &PageId,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(p) = pages::Entity::find_by_id(page.clone()).one(db).await? else {
        return Ok(false);
    };
    if p.templates_seeded {
        return Ok(false);
    }
    for (n, s) in template::shipped().into_iter().enumerate() {
        templates::ActiveModel {
            id: Set(new_id()),
            page_id: Set(page.clone()),
            group_id: Set(None),
            name: Set(s.name.to_owned()),
            title: Set(s.title),
            body: Set(s.body),
            update_status: Set(s.update_status.to_owned()),
            should_tweet: Set(false),
            should_send_notifications: Set(true),
            next_update_minutes: Set(s
                .next_update_minutes
                .map(|m| i32::try_from(m).unwrap_or(30))),
            component_ids: Set("[]".to_owned()),
            position: Set(i32::try_from(n).unwrap_or(0)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    let mut am: pages::ActiveModel = p.into();
    am.templates_seeded = Set(true);
    am.update(db).await?;
    Ok(true)
}
