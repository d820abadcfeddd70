//! Herald's schema, as sea-orm migrations applied at start and by `herald migrate`.

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_core;
mod m20261201_000001_add_page_subdomain;
mod m20261201_000002_add_audit_client_addr;
mod m20261201_000003_add_read_indexes;
mod m20261201_000004_add_update_ordinal;
mod m20261202_000001_add_impact_periods;
mod m20261202_000002_add_notifications;
mod m20261202_000003_add_webhooks;
mod m20261202_000004_add_templates;
mod m20261203_000001_add_promise_reminders;
mod m20261203_000002_add_maintenance_plan;
mod m20261203_000003_add_maintenance_series;
mod m20261204_000001_add_subscriber_follows_all;
mod m20261204_000002_add_users;
mod m20261205_000001_add_subscriber_browse_indexes;
mod m20261205_000010_add_audit_indexes;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_core::Migration),
            Box::new(m20261201_000001_add_page_subdomain::Migration),
            Box::new(m20261201_000002_add_audit_client_addr::Migration),
            Box::new(m20261201_000003_add_read_indexes::Migration),
            Box::new(m20261201_000004_add_update_ordinal::Migration),
            Box::new(m20261202_000001_add_impact_periods::Migration),
            Box::new(m20261202_000002_add_notifications::Migration),
            Box::new(m20261202_000003_add_webhooks::Migration),
            Box::new(m20261202_000004_add_templates::Migration),
            Box::new(m20261203_000001_add_promise_reminders::Migration),
            Box::new(m20261203_000002_add_maintenance_plan::Migration),
            Box::new(m20261203_000003_add_maintenance_series::Migration),
            Box::new(m20261204_000001_add_subscriber_follows_all::Migration),
            Box::new(m20261204_000002_add_users::Migration),
            Box::new(m20261205_000001_add_subscriber_browse_indexes::Migration),
            Box::new(m20261205_000010_add_audit_indexes::Migration),
        ]
    }
}
