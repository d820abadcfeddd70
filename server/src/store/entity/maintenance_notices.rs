use sea_orm::entity::prelude::*;

use crate::domain::IncidentId;

/// A notice the maintenance scheduler made (`remind:60` before a start, `overrun` at an
/// end), keyed so it is made once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "maintenance_notices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub incident_id: IncidentId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub notice: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
