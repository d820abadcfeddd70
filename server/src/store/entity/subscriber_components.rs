use sea_orm::entity::prelude::*;

use crate::domain::{ComponentId, SubscriberId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "subscriber_components")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub subscriber_id: SubscriberId,
    /// A component or a group.
    #[sea_orm(primary_key, auto_increment = false)]
    pub component_id: ComponentId,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
