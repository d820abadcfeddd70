use sea_orm::entity::prelude::*;

use crate::domain::{Channel, IncidentId, PageId, SubscriberId, SubscriberState};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "subscribers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SubscriberId,
    pub page_id: PageId,
    pub mode: Channel,
    pub email: Option<String>,
    pub endpoint: Option<String>,
    /// Channel, address and incident: unique, so a subscription exists once.
    pub address_key: String,
    /// Told only about this incident.
    pub incident_id: Option<IncidentId>,
    pub state: SubscriberState,
    pub skip_confirmation_notification: bool,
    /// Changed to void the links sent before (confirmation; manage and unsubscribe).
    pub confirm_nonce: String,
    pub manage_nonce: String,
    pub bounce_count: i32,
    pub quarantined_at: Option<DateTimeUtc>,
    pub purge_at: Option<DateTimeUtc>,
    pub confirmed_at: Option<DateTimeUtc>,
    pub unsubscribed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// An endpoint's signing secret (`whsec_...`), shown once at creation.
    pub signing_secret: Option<String>,
    /// The secret before the last rotation, still used beside the new one until
    /// `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    /// Follows the whole page (no chosen components): kept with the follows, so the
    /// expander reads those who follow everything without looking at the follows.
    #[serde(default = "follows_all_default")]
    pub follows_all: bool,
}

fn follows_all_default() -> bool {
    true
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
