use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "component_status_changes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub component_id: String,
    pub old_status: String,
    pub new_status: String,
    pub incident_id: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
