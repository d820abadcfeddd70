use sea_orm::entity::prelude::*;

use crate::domain::{Impact, IncidentId, IncidentStatus, PageId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "incidents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: IncidentId,
    pub page_id: PageId,
    pub name: String,
    pub status: IncidentStatus,
    pub impact: Impact,
    pub impact_override: Option<Impact>,
    pub started_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub monitoring_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub next_update_due_at: Option<DateTimeUtc>,
    pub postmortem_body: Option<String>,
    pub postmortem_body_last_updated_at: Option<DateTimeUtc>,
    pub postmortem_published_at: Option<DateTimeUtc>,
    /// The text readers see; the draft (`postmortem_body`) stays private until published.
    #[serde(default)]
    pub postmortem_published_body: Option<String>,
    pub postmortem_ignored: bool,
    pub postmortem_notified_subscribers: bool,
    pub scheduled_for: Option<DateTimeUtc>,
    pub scheduled_until: Option<DateTimeUtc>,
    pub scheduled_remind_prior: bool,
    pub scheduled_auto_in_progress: bool,
    pub scheduled_auto_completed: bool,
    pub metadata: String,
    pub backfilled: bool,
    /// A maintenance's plan (`domain::maintenance::Plan`) as JSON.
    #[serde(default)]
    pub maintenance_plan: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
