//! Incident templates (Statuspage's `incident_templates`, with Herald's variables and
//! promise) and template groups. `pages.templates_seeded` records that a page got the
//! shipped set once, so templates an operator deleted do not come back.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pages {
    Table,
    Id,
    TemplatesSeeded,
}

#[derive(DeriveIden)]
enum TemplateGroups {
    Table,
    Id,
    PageId,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IncidentTemplates {
    Table,
    Id,
    PageId,
    GroupId,
    Name,
    Title,
    Body,
    UpdateStatus,
    ShouldTweet,
    ShouldSendNotifications,
    NextUpdateMinutes,
    ComponentIds,
    Position,
    CreatedAt,
    UpdatedAt,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone(col)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Pages::Table)
                .add_column(boolean(Pages::TemplatesSeeded).default(false))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TemplateGroups::Table)
                .col(string_len(TemplateGroups::Id, 32).primary_key())
                .col(string_len(TemplateGroups::PageId, 32))
                .col(string(TemplateGroups::Name))
                .col(ts(TemplateGroups::CreatedAt))
                .col(ts(TemplateGroups::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(TemplateGroups::Table, TemplateGroups::PageId)
                        .to(Pages::Table, Pages::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(IncidentTemplates::Table)
                .col(string_len(IncidentTemplates::Id, 32).primary_key())
                .col(string_len(IncidentTemplates::PageId, 32))
                .col(string_len_null(IncidentTemplates::GroupId, 32))
                .col(string(IncidentTemplates::Name))
                .col(text(IncidentTemplates::Title))
                .col(text(IncidentTemplates::Body))
                .col(string_len(IncidentTemplates::UpdateStatus, 32))
                .col(boolean(IncidentTemplates::ShouldTweet).default(false))
                .col(boolean(IncidentTemplates::ShouldSendNotifications).default(true))
                .col(integer_null(IncidentTemplates::NextUpdateMinutes))
                .col(text(IncidentTemplates::ComponentIds))
                .col(integer(IncidentTemplates::Position).default(0))
                .col(ts(IncidentTemplates::CreatedAt))
                .col(ts(IncidentTemplates::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(IncidentTemplates::Table, IncidentTemplates::PageId)
                        .to(Pages::Table, Pages::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(IncidentTemplates::Table, IncidentTemplates::GroupId)
                        .to(TemplateGroups::Table, TemplateGroups::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_incident_templates_page")
                .table(IncidentTemplates::Table)
                .col(IncidentTemplates::PageId)
                .col(IncidentTemplates::Position)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(IncidentTemplates::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(TemplateGroups::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Pages::Table)
                .drop_column(Pages::TemplatesSeeded)
                .to_owned(),
        )
        .await
    }
}
