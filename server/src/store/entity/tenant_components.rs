use sea_orm::entity::prelude::*;

use crate::domain::{ComponentId, TenantId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "tenant_components")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: TenantId,
    /// A component or a group (a pod).
    #[sea_orm(primary_key, auto_increment = false)]
    pub component_id: ComponentId,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
