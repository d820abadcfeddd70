use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "delivery_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub delivery_id: i64,
    pub at: DateTimeUtc,
    /// `delivered`, `temporary` or `permanent`.
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i32,
    /// The HTTP status an endpoint answered with (webhooks and chat).
    pub status_code: Option<i32>,
    /// The start of the endpoint's response (at most a few KiB).
    pub response: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
