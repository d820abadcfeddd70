//! The pure core: statuses, the incident lifecycle, impact and the page roll-up.
//! No database, no HTTP, no clock: callers pass `now`.

mod lifecycle;
mod rollup;
mod status;
pub mod uptime;

pub use lifecycle::{Command, Effect, Kind, Lifecycle, LifecycleError, check_window};
pub use rollup::{PageStatus, derive_impact, page_status};
pub use status::{ComponentStatus, Impact, IncidentStatus, Role, UnknownValue};
