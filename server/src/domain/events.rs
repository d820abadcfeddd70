//! What happened, as typed events. Every change writes its events in the same
//! transaction (see `store::Write::commit`); the ordered log they form feeds the public
//! snapshot, notifications and the backfill API (`GET .../events`).
//!
//! The serialised form is stable: `{"kind": "incident.updated", "payload": {...}}`, the
//! kind and payload stored in their own columns. Receivers depend on it, so fields are
//! only ever added.

use serde::{Deserialize, Serialize};

use super::{
    ComponentId, ComponentStatus, IncidentId, IncidentStatus, PageId, SubscriberId, TenantId,
    UpdateId, UserId,
};

fn yes() -> bool {
    true
}

/// A status move that posted an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusMove {
    pub incident_id: IncidentId,
    pub update_id: UpdateId,
    pub old_status: IncidentStatus,
    pub status: IncidentStatus,
    /// Whether subscribers are told (the update's `deliver_notifications`).
    #[serde(default = "yes")]
    pub notify: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum Event {
    #[serde(rename = "incident.created")]
    IncidentCreated {
        incident_id: IncidentId,
        status: IncidentStatus,
        update_id: UpdateId,
        /// Whether subscribers are told (`deliver_notifications`).
        #[serde(default = "yes")]
        notify: bool,
    },
    /// An update within the open (or maintenance) statuses.
    #[serde(rename = "incident.updated")]
    IncidentUpdated(StatusMove),
    /// Entered resolved or completed.
    #[serde(rename = "incident.resolved")]
    IncidentResolved(StatusMove),
    /// Left resolved for an open status.
    #[serde(rename = "incident.reopened")]
    IncidentReopened(StatusMove),
    /// Fields changed without a new update (name, impact window, components, ...).
    #[serde(rename = "incident.edited")]
    IncidentEdited { incident_id: IncidentId },
    #[serde(rename = "incident.deleted")]
    IncidentDeleted {
        incident_id: IncidentId,
        name: String,
    },
    /// The incident's impact periods (what it did to which component, when) changed:
    /// uptime and status history follow.
    #[serde(rename = "incident.impact_changed")]
    ImpactChanged { incident_id: IncidentId },
    #[serde(rename = "incident_update.edited")]
    UpdateEdited {
        incident_id: IncidentId,
        update_id: UpdateId,
    },
    #[serde(rename = "postmortem.drafted")]
    PostmortemDrafted { incident_id: IncidentId },
    #[serde(rename = "postmortem.published")]
    PostmortemPublished {
        incident_id: IncidentId,
        notify_subscribers: bool,
    },
    #[serde(rename = "postmortem.reverted")]
    PostmortemReverted { incident_id: IncidentId },
    #[serde(rename = "postmortem.deleted")]
    PostmortemDeleted { incident_id: IncidentId },
    #[serde(rename = "component.created")]
    ComponentCreated { id: ComponentId, name: String },
    #[serde(rename = "component.updated")]
    ComponentUpdated { id: ComponentId },
    #[serde(rename = "component.deleted")]
    ComponentDeleted { id: ComponentId, name: String },
    #[serde(rename = "component_group.created")]
    GroupCreated { id: ComponentId, name: String },
    #[serde(rename = "component_group.updated")]
    GroupUpdated { id: ComponentId },
    #[serde(rename = "component_group.deleted")]
    GroupDeleted { id: ComponentId, name: String },
    #[serde(rename = "component.status_changed")]
    ComponentStatusChanged {
        component_id: ComponentId,
        old_status: ComponentStatus,
        new_status: ComponentStatus,
        incident_id: Option<IncidentId>,
        /// Whether followers are told (an incident's change follows its update).
        #[serde(default = "yes")]
        notify: bool,
    },
    #[serde(rename = "page.updated")]
    PageUpdated { page_id: PageId },
    #[serde(rename = "subscriber.created")]
    SubscriberCreated { subscriber_id: SubscriberId },
    /// A confirmation link is to be sent (on creation, or asked again).
    #[serde(rename = "subscriber.confirmation_requested")]
    ConfirmationRequested { subscriber_id: SubscriberId },
    #[serde(rename = "subscriber.confirmed")]
    SubscriberConfirmed { subscriber_id: SubscriberId },
    #[serde(rename = "subscriber.updated")]
    SubscriberUpdated { subscriber_id: SubscriberId },
    #[serde(rename = "subscriber.unsubscribed")]
    SubscriberUnsubscribed { subscriber_id: SubscriberId },
    #[serde(rename = "subscriber.reactivated")]
    SubscriberReactivated { subscriber_id: SubscriberId },
    #[serde(rename = "subscriber.quarantined")]
    SubscriberQuarantined { subscriber_id: SubscriberId },
    /// A subscriber's endpoint has been failing for a while (`paused`: long enough to be
    /// paused): its owner is told by mail.
    #[serde(rename = "subscriber.endpoint_failing")]
    EndpointFailing {
        subscriber_id: SubscriberId,
        paused: bool,
    },
    /// An incident's promised update falls due within the page's lead time (or is
    /// overdue): the responders are reminded, once per promise.
    #[serde(rename = "incident.reminder_due")]
    PromiseReminder {
        incident_id: IncidentId,
        due_at: chrono::DateTime<chrono::Utc>,
    },
    /// A maintenance's window moved (`from_*`: where it was); followers are told the
    /// difference when `notify`.
    #[serde(rename = "maintenance.rescheduled")]
    MaintenanceRescheduled {
        incident_id: IncidentId,
        from_for: chrono::DateTime<chrono::Utc>,
        from_until: Option<chrono::DateTime<chrono::Utc>>,
        #[serde(default = "yes")]
        notify: bool,
    },
    /// Followers are reminded that a maintenance starts in `minutes` (at `starts_at`).
    #[serde(rename = "maintenance.reminder")]
    MaintenanceReminder {
        incident_id: IncidentId,
        starts_at: chrono::DateTime<chrono::Utc>,
        minutes: u32,
    },
    /// A maintenance's window ended while the work goes on: responders are told, the
    /// page says it is taking longer than planned.
    #[serde(rename = "maintenance.overrun")]
    MaintenanceOverrun { incident_id: IncidentId },
    /// A maintenance held back until its `publish_at` is shown, and its followers told.
    #[serde(rename = "maintenance.published")]
    MaintenancePublished { incident_id: IncidentId },
    #[serde(rename = "tenant.created")]
    TenantCreated { tenant_id: TenantId },
    #[serde(rename = "tenant.updated")]
    TenantUpdated { tenant_id: TenantId },
    #[serde(rename = "tenant.deleted")]
    TenantDeleted { tenant_id: TenantId },
    /// A console user is to be mailed a one-time sign-in link (`invite` or `reset`);
    /// the link is made when the mail is sent, so no token is ever stored.
    #[serde(rename = "user.sign_in_requested")]
    SignInRequested { user_id: UserId, purpose: String },
}

/// The kinds of events readers of the public page cannot see.
pub const PRIVATE_KINDS: &[&str] = &[
    "postmortem.drafted",
    "incident.reminder_due",
    "maintenance.reminder",
    "subscriber.created",
    "subscriber.confirmation_requested",
    "subscriber.confirmed",
    "subscriber.updated",
    "subscriber.unsubscribed",
    "subscriber.reactivated",
    "subscriber.quarantined",
    "subscriber.endpoint_failing",
    "tenant.created",
    "tenant.updated",
    "tenant.deleted",
    "user.sign_in_requested",
];

/// What an event is about, as stored beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    pub kind: &'static str,
    pub id: &'a str,
}

impl Event {
    pub fn subject(&self) -> Subject<'_> {
        use Event::*;
        let (kind, id) = match self {
            IncidentCreated { incident_id, .. }
            | IncidentEdited { incident_id }
            | ImpactChanged { incident_id }
            | IncidentDeleted { incident_id, .. }
            | UpdateEdited { incident_id, .. }
            | PostmortemDrafted { incident_id }
            | PostmortemPublished { incident_id, .. }
            | PostmortemReverted { incident_id }
            | PostmortemDeleted { incident_id }
            | PromiseReminder { incident_id, .. }
            | MaintenanceRescheduled { incident_id, .. }
            | MaintenanceReminder { incident_id, .. }
            | MaintenanceOverrun { incident_id }
            | MaintenancePublished { incident_id } => ("incident", incident_id.as_str()),
            IncidentUpdated(m) | IncidentResolved(m) | IncidentReopened(m) => {
                ("incident", m.incident_id.as_str())
            }
            ComponentCreated { id, .. } | ComponentUpdated { id } | ComponentDeleted { id, .. } => {
                ("component", id.as_str())
            }
            GroupCreated { id, .. } | GroupUpdated { id } | GroupDeleted { id, .. } => {
                ("component_group", id.as_str())
            }
            ComponentStatusChanged { component_id, .. } => ("component", component_id.as_str()),
            PageUpdated { page_id } => ("page", page_id.as_str()),
            SubscriberCreated { subscriber_id }
            | ConfirmationRequested { subscriber_id }
            | SubscriberConfirmed { subscriber_id }
            | SubscriberUpdated { subscriber_id }
            | SubscriberUnsubscribed { subscriber_id }
            | SubscriberReactivated { subscriber_id }
            | SubscriberQuarantined { subscriber_id }
            | EndpointFailing { subscriber_id, .. } => ("subscriber", subscriber_id.as_str()),
            TenantCreated { tenant_id }
            | TenantUpdated { tenant_id }
            | TenantDeleted { tenant_id } => ("tenant", tenant_id.as_str()),
            SignInRequested { user_id, .. } => ("user", user_id.as_str()),
        };
        Subject { kind, id }
    }

    /// Whether readers of the public page can see the change. A postmortem draft is the
    /// responders' own work until it is published.
    pub fn is_public(&self) -> bool {
        !PRIVATE_KINDS.contains(&self.to_parts().0.as_str())
    }

    /// Whether anyone is to be told: written to the outbox with the event.
    pub fn notifies(&self) -> bool {
        use Event::*;
        match self {
            IncidentCreated { notify, .. } | ComponentStatusChanged { notify, .. } => *notify,
            IncidentUpdated(m) | IncidentResolved(m) | IncidentReopened(m) => m.notify,
            PostmortemPublished {
                notify_subscribers, ..
            } => *notify_subscribers,
            MaintenanceRescheduled { notify, .. } => *notify,
            ConfirmationRequested { .. }
            | SignInRequested { .. }
            | EndpointFailing { .. }
            | PromiseReminder { .. }
            | MaintenanceReminder { .. }
            | MaintenanceOverrun { .. }
            | MaintenancePublished { .. } => true,
            _ => false,
        }
    }

    /// The incident the event concerns, if any.
    pub fn incident_id(&self) -> Option<&IncidentId> {
        use Event::*;
        match self {
            IncidentCreated { incident_id, .. }
            | IncidentEdited { incident_id }
            | ImpactChanged { incident_id }
            | IncidentDeleted { incident_id, .. }
            | UpdateEdited { incident_id, .. }
            | PostmortemDrafted { incident_id }
            | PostmortemPublished { incident_id, .. }
            | PostmortemReverted { incident_id }
            | PostmortemDeleted { incident_id }
            | PromiseReminder { incident_id, .. }
            | MaintenanceRescheduled { incident_id, .. }
            | MaintenanceReminder { incident_id, .. }
            | MaintenanceOverrun { incident_id }
            | MaintenancePublished { incident_id } => Some(incident_id),
            IncidentUpdated(m) | IncidentResolved(m) | IncidentReopened(m) => Some(&m.incident_id),
            ComponentStatusChanged { incident_id, .. } => incident_id.as_ref(),
            _ => None,
        }
    }

    /// `(kind, payload)` as stored.
    pub fn to_parts(&self) -> (String, serde_json::Value) {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut m)) => {
                let kind = match m.remove("kind") {
                    Some(serde_json::Value::String(k)) => k,
                    _ => String::new(),
                };
                let payload = m.remove("payload").unwrap_or(serde_json::Value::Null);
                (kind, payload)
            }
            _ => (String::new(), serde_json::Value::Null),
        }
    }

    /// Reads a stored event back; `None` for kinds this version does not know.
    pub fn from_parts(kind: &str, payload: serde_json::Value) -> Option<Event> {
        serde_json::from_value(serde_json::json!({"kind": kind, "payload": payload})).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_stored_form_is_stable() {
        let e = Event::IncidentResolved(StatusMove {
            incident_id: "inc1".into(),
            update_id: "upd1".into(),
            old_status: IncidentStatus::Identified,
            status: IncidentStatus::Resolved,
            notify: true,
        });
        let (kind, payload) = e.to_parts();
        assert_eq!(kind, "incident.resolved");
        assert_eq!(
            payload,
            json!({"incident_id": "inc1", "update_id": "upd1", "old_status": "identified", "status": "resolved", "notify": true})
        );
        assert_eq!(Event::from_parts(&kind, payload), Some(e.clone()));
        assert_eq!(
            e.subject(),
            Subject {
                kind: "incident",
                id: "inc1"
            }
        );
        let c = Event::ComponentStatusChanged {
            component_id: "c1".into(),
            old_status: ComponentStatus::Operational,
            new_status: ComponentStatus::MajorOutage,
            incident_id: None,
            notify: true,
        };
        assert_eq!(
            c.to_parts(),
            (
                "component.status_changed".to_owned(),
                json!({"component_id": "c1", "old_status": "operational", "new_status": "major_outage", "incident_id": null, "notify": true})
            )
        );
        assert_eq!(Event::from_parts("something.new", json!({})), None);
    }

    #[test]
    fn drafts_are_private() {
        assert!(
            !Event::PostmortemDrafted {
                incident_id: "i".into()
            }
            .is_public()
        );
        assert!(
            Event::PostmortemPublished {
                incident_id: "i".into(),
                notify_subscribers: false
            }
            .is_public()
        );
    }
}
