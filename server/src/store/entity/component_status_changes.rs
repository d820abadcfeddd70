use sea_orm::entity::prelude::*;

use crate::domain::{ComponentId, ComponentStatus, IncidentId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "component_status_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub component_id: ComponentId,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
    pub incident_id: Option<IncidentId>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
