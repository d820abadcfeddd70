use sea_orm::entity::prelude::*;

use crate::domain::PageId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "incident_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub page_id: PageId,
    pub group_id: Option<String>,
    pub name: String,
    pub title: String,
    pub body: String,
    pub update_status: String,
    pub should_tweet: bool,
    pub should_send_notifications: bool,
    pub next_update_minutes: Option<i32>,
    /// A JSON array of component and group ids.
    pub component_ids: String,
    pub position: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
