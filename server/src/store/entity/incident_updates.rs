use sea_orm::entity::prelude::*;

use crate::domain::{IncidentId, IncidentStatus, UpdateId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "incident_updates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UpdateId,
    pub incident_id: IncidentId,
    pub status: IncidentStatus,
    pub body: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub display_at: DateTimeUtc,
    pub deliver_notifications: bool,
    /// JSON array of `{code, name, old_status, new_status}`, or NULL.
    pub affected_components: Option<String>,
    pub template: Option<String>,
    pub next_update_due_at: Option<DateTimeUtc>,
    pub custom_tweet: Option<String>,
    /// The update's place in its incident's timeline, from 0.
    pub ordinal: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
