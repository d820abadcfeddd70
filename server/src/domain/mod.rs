//! The pure core: statuses, the incident aggregate and its lifecycle, what incidents do
//! to components, events, impact and the page roll-up. No database, no HTTP, no clock:
//! callers pass `now`.

pub mod communication;
pub mod component;
pub mod events;
pub mod holds;
mod ids;
pub mod impact;
pub mod incident;
mod lifecycle;
pub mod maintenance;
pub mod notify;
mod rollup;
pub mod series;
mod status;
pub mod template;
pub mod text;
pub mod uptime;
pub mod user;
pub mod webhook;

pub use component::{Component, StatusChange};
pub use events::Event;
pub use ids::{ComponentId, IncidentId, PageId, SubscriberId, TenantId, TokenId, UpdateId, UserId};
pub use impact::Period;
pub use incident::{AffectedComponent, Incident, Update};
pub use lifecycle::{Kind, LifecycleError, check_window};
pub use rollup::{PageStatus, derive_impact, page_status};
pub use status::{
    Channel, ComponentStatus, DeliveryState, Impact, IncidentStatus, RecipientKind, Role,
    SubscriberState, UnknownValue,
};

/// Why a command was refused: a field that is wrong, a move the lifecycle does not
/// allow, or something that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{what} '{id}' was not found")]
    NotFound { what: &'static str, id: String },
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The field at fault, relative to the request's object (`started_at`,
    /// `components.abc`).
    pub fn field(&self) -> Option<&str> {
        match self {
            DomainError::Lifecycle(l) => Some(l.field()),
            DomainError::Invalid { field, .. } => Some(field),
            DomainError::NotFound { .. } => None,
        }
    }
}
