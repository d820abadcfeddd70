use sea_orm::entity::prelude::*;

use crate::domain::{ComponentId, ComponentStatus, PageId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "components")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ComponentId,
    pub page_id: PageId,
    pub name: String,
    pub description: Option<String>,
    pub status: ComponentStatus,
    pub is_group: bool,
    pub group_id: Option<ComponentId>,
    pub position: i32,
    pub showcase: bool,
    pub only_show_if_degraded: bool,
    pub start_date: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Deleted while incidents still name it: hidden everywhere but in their record.
    #[serde(default)]
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
