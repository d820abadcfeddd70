//! sea-orm entities, one per table; hand-written to match `migrations/`.

pub mod api_tokens;
pub mod audit_log;
pub mod component_status_changes;
pub mod components;
pub mod events;
pub mod idempotency_keys;
pub mod impact_periods;
pub mod incident_components;
pub mod incident_updates;
pub mod incidents;
pub mod pages;
