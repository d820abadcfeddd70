use sea_orm::entity::prelude::*;

use crate::domain::IncidentId;

/// One reminder made for an incident's promised update (its due time): the key that
/// keeps a promise from being reminded twice.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "promise_reminders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub incident_id: IncidentId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub due_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
