use sea_orm::entity::prelude::*;

use crate::domain::{ComponentId, ComponentStatus, IncidentId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "impact_periods")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub incident_id: Option<IncidentId>,
    pub component_id: ComponentId,
    pub status: ComponentStatus,
    pub starts_at: DateTimeUtc,
    pub ends_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
