use std::{fmt, str::FromStr};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A string that is not one of an enum's values; says which values are allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not one of {allowed}")]
pub struct UnknownValue {
    pub value: String,
    pub allowed: &'static str,
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        value: s.to_owned(),
                        allowed: concat!($($text, " "),+),
                    }),
                }
            }
        }
    };
}

string_enum!(
    /// A component's status, ordered from best to worst (maintenance aside).
    ComponentStatus {
        Operational => "operational",
        UnderMaintenance => "under_maintenance",
        DegradedPerformance => "degraded_performance",
        PartialOutage => "partial_outage",
        MajorOutage => "major_outage",
    }
);

string_enum!(
    /// Incident and maintenance statuses share one field, as in Statuspage.
    IncidentStatus {
        Investigating => "investigating",
        Identified => "identified",
        Monitoring => "monitoring",
        Resolved => "resolved",
        Postmortem => "postmortem",
        Scheduled => "scheduled",
        InProgress => "in_progress",
        Verifying => "verifying",
        Completed => "completed",
        Cancelled => "cancelled",
    }
);

string_enum!(
    /// Incident impact; `maintenance` is used by scheduled maintenances only.
    Impact {
        None => "none",
        Minor => "minor",
        Major => "major",
        Critical => "critical",
        Maintenance => "maintenance",
    }
);

string_enum!(
    /// What an API token may do. Ordered: each role can do what the ones before it can.
    Role {
        Viewer => "viewer",
        Responder => "responder",
        Admin => "admin",
    }
);

string_enum!(
    /// How a subscriber is reached, and a delivery's channel.
    Channel {
        Email => "email",
        Webhook => "webhook",
        Slack => "slack",
        Discord => "discord",
        Teams => "teams",
    }
);

string_enum!(
    /// Where a subscriber stands: waiting for the confirmation link, told, set aside after
    /// repeated failures, or gone.
    SubscriberState {
        Unconfirmed => "unconfirmed",
        Active => "active",
        Quarantined => "quarantined",
        Unsubscribed => "unsubscribed",
    }
);

string_enum!(
    /// A delivery in the ledger: due (`pending`, `retrying`), claimed by a worker
    /// (`sending`), done (`delivered`), given up (`failed` on a permanent refusal, `dead`
    /// after the retry budget), or called off (`cancelled`).
    DeliveryState {
        Pending => "pending",
        Sending => "sending",
        Retrying => "retrying",
        Delivered => "delivered",
        Failed => "failed",
        Dead => "dead",
        Cancelled => "cancelled",
    }
);

string_enum!(
    /// Why a recipient gets a delivery.
    RecipientKind {
        Subscriber => "subscriber",
        IncidentSubscriber => "incident_subscriber",
        Tenant => "tenant",
        Confirmation => "confirmation",
        Owner => "owner",
        Responder => "responder",
        User => "user",
    }
);

impl ComponentStatus {
    /// The impact a component in this status gives an incident.
    pub fn impact(self) -> Impact {
        match self {
            ComponentStatus::Operational | ComponentStatus::UnderMaintenance => Impact::None,
            ComponentStatus::DegradedPerformance => Impact::Minor,
            ComponentStatus::PartialOutage => Impact::Major,
            ComponentStatus::MajorOutage => Impact::Critical,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::UnderMaintenance => "Under Maintenance",
            ComponentStatus::DegradedPerformance => "Degraded Performance",
            ComponentStatus::PartialOutage => "Partial Outage",
            ComponentStatus::MajorOutage => "Major Outage",
        }
    }
}

impl IncidentStatus {
    pub fn is_maintenance(self) -> bool {
        matches!(
            self,
            IncidentStatus::Scheduled
                | IncidentStatus::InProgress
                | IncidentStatus::Verifying
                | IncidentStatus::Completed
                | IncidentStatus::Cancelled
        )
    }

    /// Still going on: neither resolved, postmortem nor completed.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            IncidentStatus::Resolved
                | IncidentStatus::Postmortem
                | IncidentStatus::Completed
                | IncidentStatus::Cancelled
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
            IncidentStatus::Postmortem => "Postmortem",
            IncidentStatus::Scheduled => "Scheduled",
            IncidentStatus::InProgress => "In progress",
            IncidentStatus::Verifying => "Verifying",
            IncidentStatus::Completed => "Completed",
            IncidentStatus::Cancelled => "Cancelled",
        }
    }
}

impl Impact {
    fn rank(self) -> u8 {
        match self {
            Impact::None => 0,
            Impact::Maintenance => 1,
            Impact::Minor => 2,
            Impact::Major => 3,
            Impact::Critical => 4,
        }
    }

    pub fn worst(self, other: Impact) -> Impact {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_text() {
        for s in ComponentStatus::ALL {
            assert_eq!(s.as_str().parse::<ComponentStatus>(), Ok(*s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        for s in IncidentStatus::ALL {
            assert_eq!(s.as_str().parse::<IncidentStatus>(), Ok(*s));
        }
        for s in Impact::ALL {
            assert_eq!(s.as_str().parse::<Impact>(), Ok(*s));
        }
        for s in Role::ALL {
            assert_eq!(s.as_str().parse::<Role>(), Ok(*s));
        }
    }

    #[test]
    fn unknown_values_name_the_allowed_ones() {
        let err = "down"
            .parse::<ComponentStatus>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("major_outage"), "{err}");
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Viewer < Role::Responder && Role::Responder < Role::Admin);
    }

    #[test]
    fn worst_impact_wins() {
        assert_eq!(Impact::Minor.worst(Impact::Critical), Impact::Critical);
        assert_eq!(Impact::Major.worst(Impact::None), Impact::Major);
        assert_eq!(Impact::None.worst(Impact::Maintenance), Impact::Maintenance);
    }
}
