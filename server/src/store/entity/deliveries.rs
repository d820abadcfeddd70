use sea_orm::entity::prelude::*;

use crate::domain::{
    Channel, DeliveryState, IncidentId, RecipientKind, SubscriberId, TenantId, UpdateId,
};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub event_seq: i64,
    pub incident_id: Option<IncidentId>,
    pub update_id: Option<UpdateId>,
    pub channel: Channel,
    /// An email address or an endpoint URL.
    pub recipient: String,
    pub recipient_kind: RecipientKind,
    pub subscriber_id: Option<SubscriberId>,
    pub tenant_id: Option<TenantId>,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Since when it has been due (made, or asked again): the retry budget runs from it.
    pub due_since: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    /// Stable across attempts: a repeat after a crash carries the same id.
    pub message_id: String,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
