//! Impact periods: what each incident did to each component and when, derived from the
//! incident's window and its updates' times (see `domain::impact`); uptime is computed
//! from them. Components referenced by incidents are kept, hidden, when deleted
//! (`deleted_at`). `pages.derived_version` says which rules derived the periods: Herald
//! derives them again at start when it is older than the running version. A published
//! postmortem keeps its text apart from the draft (`postmortem_published_body`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ImpactPeriods {
    Table,
    Id,
    IncidentId,
    ComponentId,
    Status,
    StartsAt,
    EndsAt,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
    PostmortemPublishedBody,
}

#[derive(DeriveIden)]
enum Components {
    Table,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Pages {
    Table,
    DerivedVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ImpactPeriods::Table)
                .col(
                    big_integer(ImpactPeriods::Id)
                        .primary_key()
                        .auto_increment(),
                )
                .col(string_len_null(ImpactPeriods::IncidentId, 32))
                .col(string_len(ImpactPeriods::ComponentId, 32))
                .col(string_len(ImpactPeriods::Status, 32))
                .col(timestamp_with_time_zone(ImpactPeriods::StartsAt))
                .col(timestamp_with_time_zone_null(ImpactPeriods::EndsAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ImpactPeriods::Table, ImpactPeriods::IncidentId)
                        .to(Incidents::Table, Incidents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_impact_periods_component_starts")
                .table(ImpactPeriods::Table)
                .col(ImpactPeriods::ComponentId)
                .col(ImpactPeriods::StartsAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_impact_periods_incident")
                .table(ImpactPeriods::Table)
                .col(ImpactPeriods::IncidentId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_impact_periods_ends")
                .table(ImpactPeriods::Table)
                .col(ImpactPeriods::EndsAt)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Components::Table)
                .add_column(timestamp_with_time_zone_null(Components::DeletedAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Pages::Table)
                .add_column(integer(Pages::DerivedVersion).default(0))
                .to_owned(),
        )
        .await?;
        // A published postmortem's text, apart from the draft that may be edited after.
        m.alter_table(
            Table::alter()
                .table(Incidents::Table)
                .add_column(text_null(Incidents::PostmortemPublishedBody))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "UPDATE incidents SET postmortem_published_body = postmortem_body \
                 WHERE postmortem_published_at IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Incidents::Table)
                .drop_column(Incidents::PostmortemPublishedBody)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Pages::Table)
                .drop_column(Pages::DerivedVersion)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Components::Table)
                .drop_column(Components::DeletedAt)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(ImpactPeriods::Table).to_owned())
            .await
    }
}
