use sea_orm::entity::prelude::*;

use crate::domain::{ComponentId, ComponentStatus, IncidentId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "incident_components")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub incident_id: IncidentId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub component_id: ComponentId,
    pub status: ComponentStatus,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
