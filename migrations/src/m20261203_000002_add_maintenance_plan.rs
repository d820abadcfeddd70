//! Scheduled maintenance as a workflow: each maintenance's plan (automatic transitions,
//! notices at start and end, reminders, the calendar's sequence, overrun) as JSON on its
//! row, and one row per notice the scheduler made (a reminder at an offset before a
//! given start, an overrun), so each is made once however many instances run.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
    MaintenancePlan,
}

#[derive(DeriveIden)]
enum MaintenanceNotices {
    Table,
    IncidentId,
    Notice,
    At,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Incidents::Table)
                .add_column(text_null(Incidents::MaintenancePlan))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MaintenanceNotices::Table)
                .col(string_len(MaintenanceNotices::IncidentId, 32))
                .col(string_len(MaintenanceNotices::Notice, 32))
                .col(timestamp_with_time_zone(MaintenanceNotices::At))
                .col(timestamp_with_time_zone(MaintenanceNotices::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(MaintenanceNotices::IncidentId)
                        .col(MaintenanceNotices::Notice)
                        .col(MaintenanceNotices::At),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(MaintenanceNotices::Table, MaintenanceNotices::IncidentId)
                        .to(Incidents::Table, Incidents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MaintenanceNotices::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Incidents::Table)
                .drop_column(Incidents::MaintenancePlan)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}
