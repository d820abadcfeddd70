use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryOrder, Set};

use super::{Result, StoreError, Write, entity::pages, new_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub url: String,
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<pages::Model> for Page {
    fn from(m: pages::Model) -> Self {
        Page {
            id: m.id,
            name: m.name,
            url: m.url,
            time_zone: m.time_zone,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Returns the page's id, creating the page on first start; a server passes its public
/// URL so the page's links follow it.
pub(super) async fn ensure(db: &impl ConnectionTrait, public_url: Option<&str>) -> Result<String> {
    let existing = pages::Entity::find()
        .order_by_asc(pages::Column::CreatedAt)
        .one(db)
        .await?;
    match (existing, public_url) {
        (Some(p), None) => Ok(p.id),
        (Some(p), Some(u)) if p.url == u => Ok(p.id),
        (Some(p), Some(public_url)) => {
            let id = p.id.clone();
            let mut am: pages::ActiveModel = p.into();
            am.url = Set(public_url.to_owned());
            am.update(db).await?;
            Ok(id)
        }
        (None, public_url) => {
            let now = Utc::now();
            let page = pages::ActiveModel {
                id: Set(new_id()),
                name: Set("Herald".to_owned()),
                url: Set(public_url.unwrap_or("http://127.0.0.1:8080").to_owned()),
                time_zone: Set("Etc/UTC".to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await?;
            Ok(page.id)
        }
    }
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<Page> {
    pages::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(Page::from)
        .ok_or_else(|| StoreError::not_found("page", id))
}

#[derive(Debug, Default, Clone)]
pub struct PagePatch {
    pub name: Option<String>,
    pub time_zone: Option<String>,
}

pub async fn update(w: &mut Write, patch: PagePatch) -> Result<Page> {
    let page = get(w.conn(), w.page_id()).await?;
    let mut am: pages::ActiveModel = pages::Entity::find_by_id(page.id.clone())
        .one(w.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("page", &page.id))?
        .into();
    if let Some(name) = &patch.name {
        am.name = Set(name.clone());
    }
    if let Some(tz) = &patch.time_zone {
        am.time_zone = Set(tz.clone());
    }
    am.updated_at = Set(w.now());
    let page: Page = am.update(w.conn()).await?.into();
    w.event(
        "page.updated",
        "page",
        &page.id,
        serde_json::json!({"page_id": page.id}),
    )
    .await?;
    w.audit(
        "page.update",
        "page",
        &page.id,
        serde_json::json!({"name": patch.name, "time_zone": patch.time_zone}),
    )
    .await?;
    Ok(page)
}
