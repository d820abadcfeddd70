//! Incidents and scheduled maintenances with their updates and affected components.
//! `read` turns rows into the domain's [`Incident`]; `write` loads an incident with the
//! facts of its components, lets the domain apply a command, and commits the outcome.

mod read;
mod write;

pub use read::{
    Filter, count, get, get_many, list, overdue_count, started_between, upcoming_maintenance,
};
pub use write::{PREVIEW_ID, apply, create, preview_apply, preview_create};

pub use crate::domain::incident::{Changes, Command, Outcome, PostmortemAction, Promise};
pub use crate::domain::{AffectedComponent, Incident, Update as IncidentUpdate};
