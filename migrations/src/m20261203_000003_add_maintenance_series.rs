//! Recurring maintenance: a series (a recurrence rule in a time zone, a window length
//! and the template each occurrence is made from), and one row per occurrence made, so
//! each is made once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pages {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MaintenanceSeries {
    Table,
    Id,
    PageId,
    Rrule,
    StartsAtLocal,
    TimeZone,
    DurationMinutes,
    Template,
    CreatedAt,
    UpdatedAt,
    EndedAt,
}

#[derive(DeriveIden)]
enum SeriesOccurrences {
    Table,
    SeriesId,
    StartsAt,
    IncidentId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MaintenanceSeries::Table)
                .col(string_len(MaintenanceSeries::Id, 32).primary_key())
                .col(string_len(MaintenanceSeries::PageId, 32))
                .col(text(MaintenanceSeries::Rrule))
                .col(string(MaintenanceSeries::StartsAtLocal))
                .col(string(MaintenanceSeries::TimeZone))
                .col(integer(MaintenanceSeries::DurationMinutes))
                .col(text(MaintenanceSeries::Template))
                .col(timestamp_with_time_zone(MaintenanceSeries::CreatedAt))
                .col(timestamp_with_time_zone(MaintenanceSeries::UpdatedAt))
                .col(timestamp_with_time_zone_null(MaintenanceSeries::EndedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(MaintenanceSeries::Table, MaintenanceSeries::PageId)
                        .to(Pages::Table, Pages::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SeriesOccurrences::Table)
                .col(string_len(SeriesOccurrences::SeriesId, 32))
                .col(timestamp_with_time_zone(SeriesOccurrences::StartsAt))
                .col(string_len(SeriesOccurrences::IncidentId, 32))
                .col(timestamp_with_time_zone(SeriesOccurrences::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(SeriesOccurrences::SeriesId)
                        .col(SeriesOccurrences::StartsAt),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(SeriesOccurrences::Table, SeriesOccurrences::SeriesId)
                        .to(MaintenanceSeries::Table, MaintenanceSeries::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(SeriesOccurrences::Table, SeriesOccurrences::IncidentId)
                        .to(Incidents::Table, Incidents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SeriesOccurrences::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(MaintenanceSeries::Table).to_owned())
            .await?;
        Ok(())
    }
}
