//! Incidents and scheduled maintenances with their updates and affected components.
//! Lifecycle decisions come from `domain`; this module applies them in one transaction.
//! `write` opens, updates and closes; `affected` decides what happens to components;
//! `read` loads incidents with their updates.

mod affected;
mod read;
mod write;

pub use read::{get, list};
pub use write::{PostmortemAction, create, delete, edit_update, postmortem, update};

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Result, StoreError, Write,
    components::{self, Component},
    entity::{incident_components as links, incident_updates as updates, incidents},
    new_id,
};
use crate::domain::{
    Command, ComponentStatus, Effect, Impact, IncidentStatus, Kind, Lifecycle, check_window,
    derive_impact,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedComponent {
    pub code: String,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncidentUpdate {
    pub id: String,
    pub incident_id: String,
    pub status: IncidentStatus,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub display_at: DateTime<Utc>,
    pub deliver_notifications: bool,
    pub affected_components: Option<Vec<AffectedComponent>>,
    pub template: Option<String>,
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub custom_tweet: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: String,
    pub page_id: String,
    pub name: String,
    pub status: IncidentStatus,
    pub impact: Impact,
    pub impact_override: Option<Impact>,
    pub started_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub monitoring_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub postmortem_body: Option<String>,
    pub postmortem_body_last_updated_at: Option<DateTime<Utc>>,
    pub postmortem_published_at: Option<DateTime<Utc>>,
    pub postmortem_ignored: bool,
    pub postmortem_notified_subscribers: bool,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    pub scheduled_remind_prior: bool,
    pub scheduled_auto_in_progress: bool,
    pub scheduled_auto_completed: bool,
    pub metadata: serde_json::Value,
    pub backfilled: bool,
    /// Newest first.
    pub updates: Vec<IncidentUpdate>,
    /// Affected components with the status each had during the incident.
    pub components: Vec<(String, ComponentStatus)>,
}

impl Incident {
    pub fn kind(&self) -> Kind {
        if self.scheduled_for.is_some() {
            Kind::Maintenance
        } else {
            Kind::Incident
        }
    }

    fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            kind: self.kind(),
            status: self.status,
            has_postmortem_draft: self
                .postmortem_body
                .as_deref()
                .is_some_and(|b| !b.trim().is_empty()),
            postmortem_published: self.postmortem_published_at.is_some(),
            monitoring_at: self.monitoring_at,
            resolved_at: self.resolved_at,
        }
    }
}

/// Optional settings shared by opening and updating.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub status: Option<IncidentStatus>,
    pub body: Option<String>,
    pub impact_override: Option<Option<Impact>>,
    /// Components and the status each takes, in the order given.
    pub components: Vec<(String, Option<ComponentStatus>)>,
    pub deliver_notifications: Option<bool>,
    pub started_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub metadata: Option<serde_json::Value>,
    pub backfilled: Option<bool>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    pub scheduled_remind_prior: Option<bool>,
    pub scheduled_auto_in_progress: Option<bool>,
    pub scheduled_auto_completed: Option<bool>,
    /// When the next update is promised (from "expect an update within N minutes").
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub template: Option<String>,
    pub custom_tweet: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    /// Plain incidents only (no maintenances).
    Incidents,
    Unresolved,
    Maintenances,
    /// Maintenances still `scheduled`.
    Scheduled,
    /// Maintenances `in_progress` or `verifying`.
    ActiveMaintenance,
}

pub(super) fn default_body(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Investigating => "We are currently investigating this issue.",
        IncidentStatus::Identified => {
            "The issue has been identified and a fix is being implemented."
        }
        IncidentStatus::Monitoring => {
            "A fix has been implemented and we are monitoring the results."
        }
        IncidentStatus::Resolved => "This incident has been resolved.",
        IncidentStatus::Postmortem => "A postmortem has been published.",
        IncidentStatus::Scheduled => "This maintenance has been scheduled.",
        IncidentStatus::InProgress => "Scheduled maintenance is currently in progress.",
        IncidentStatus::Verifying => {
            "Verification is currently underway for the maintenance items."
        }
        IncidentStatus::Completed => "The scheduled maintenance has been completed.",
    }
}

pub(super) fn opt_ts(v: Option<DateTime<Utc>>) -> serde_json::Value {
    v.map(|t| json!(t.to_rfc3339()))
        .unwrap_or(serde_json::Value::Null)
}
