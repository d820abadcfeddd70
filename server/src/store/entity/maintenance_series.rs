use sea_orm::entity::prelude::*;

use crate::domain::PageId;

/// A recurring maintenance: its rule, zone, window and template (`domain::series`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "maintenance_series")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub page_id: PageId,
    pub rrule: String,
    /// `2026-03-17T02:00:00`, in `time_zone`.
    pub starts_at_local: String,
    pub time_zone: String,
    pub duration_minutes: i32,
    /// `domain::series::Template` as JSON.
    pub template: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Ended (deleted): no more occurrences are made.
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
