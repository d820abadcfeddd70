use sea_orm::entity::prelude::*;

use crate::domain::{PageId, Role, UserId};

/// A person who signs in to the console.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UserId,
    pub page_id: PageId,
    pub email: String,
    /// The address lowercased, unique per page.
    pub email_key: String,
    pub name: String,
    pub role: Role,
    /// Argon2id in PHC form; none until the person sets a password.
    pub password_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub disabled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
