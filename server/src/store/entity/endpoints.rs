use sea_orm::entity::prelude::*;

use crate::domain::Channel;

/// A webhook or chat endpoint (channel and URL): since when it has been failing, when
/// its owner was told, and whether it is paused.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub channel: Channel,
    pub url: String,
    pub failing_since: Option<DateTimeUtc>,
    pub warned_at: Option<DateTimeUtc>,
    pub paused_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
