use sea_orm::entity::prelude::*;

use crate::domain::PageId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "pages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PageId,
    pub name: String,
    pub url: String,
    pub time_zone: String,
    pub subdomain: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The version of the rules that derived the impact periods (`store::impact`).
    #[serde(default)]
    pub derived_version: i32,
    /// Signs the links in mails; made at first start, never shown.
    #[serde(default)]
    pub link_secret: Option<String>,
    /// The shipped incident templates were added once.
    #[serde(default)]
    pub templates_seeded: bool,
    /// Where readers get help (`https://...` or `mailto:...`): a template variable.
    #[serde(default)]
    pub support_url: Option<String>,
    /// Responders reminded before a promised update is due: a JSON array of addresses.
    #[serde(default)]
    pub responder_emails: Option<String>,
    #[serde(default)]
    pub responder_webhook_url: Option<String>,
    /// How long before a promised update is due the responders are reminded.
    #[serde(default = "five")]
    pub reminder_lead_minutes: i32,
    /// The public incident page says how long after the impact began the first update
    /// came.
    #[serde(default)]
    pub show_first_update_delay: bool,
}

fn five() -> i32 {
    5
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
