use sea_orm::entity::prelude::*;

use crate::domain::TokenId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub token_id: Option<TokenId>,
    pub actor: String,
    pub client_addr: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub detail: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
