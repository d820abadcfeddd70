//! sea-orm entities, one per table; hand-written to match `migrations/`.

pub mod api_tokens;
pub mod audit_log;
pub mod component_status_changes;
pub mod components;
pub mod deliveries;
pub mod delivery_attempts;
pub mod endpoints;
pub mod events;
pub mod idempotency_keys;
pub mod impact_periods;
pub mod incident_components;
pub mod incident_templates;
pub mod incident_updates;
pub mod incidents;
pub mod maintenance_notices;
pub mod maintenance_series;
pub mod outbox;
pub mod pages;
pub mod promise_reminders;
pub mod series_occurrences;
pub mod subscriber_components;
pub mod subscribers;
pub mod template_groups;
pub mod tenant_components;
pub mod tenant_contacts;
pub mod tenants;
