//! The core tables: page, components (groups are components with `is_group`), their
//! status history, incidents with their updates, API tokens, the event log, the audit
//! log and idempotency keys.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pages {
    Table,
    Id,
    Name,
    Url,
    TimeZone,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Components {
    Table,
    Id,
    PageId,
    Name,
    Description,
    Status,
    IsGroup,
    GroupId,
    Position,
    Showcase,
    OnlyShowIfDegraded,
    StartDate,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ComponentStatusChanges {
    Table,
    Id,
    ComponentId,
    OldStatus,
    NewStatus,
    IncidentId,
    At,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
    PageId,
    Name,
    Status,
    Impact,
    ImpactOverride,
    StartedAt,
    CreatedAt,
    UpdatedAt,
    MonitoringAt,
    ResolvedAt,
    NextUpdateDueAt,
    PostmortemBody,
    PostmortemBodyLastUpdatedAt,
    PostmortemPublishedAt,
    PostmortemIgnored,
    PostmortemNotifiedSubscribers,
    ScheduledFor,
    ScheduledUntil,
    ScheduledRemindPrior,
    ScheduledAutoInProgress,
    ScheduledAutoCompleted,
    Metadata,
    Backfilled,
}

#[derive(DeriveIden)]
enum IncidentComponents {
    Table,
    IncidentId,
    ComponentId,
    Status,
}

#[derive(DeriveIden)]
enum IncidentUpdates {
    Table,
    Id,
    IncidentId,
    Status,
    Body,
    CreatedAt,
    UpdatedAt,
    DisplayAt,
    DeliverNotifications,
    AffectedComponents,
    Template,
    NextUpdateDueAt,
    CustomTweet,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Role,
    TokenHash,
    Prefix,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Seq,
    Kind,
    SubjectType,
    SubjectId,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    TokenId,
    Actor,
    Action,
    SubjectType,
    SubjectId,
    Detail,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    TokenId,
    Key,
    RequestHash,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone(col)
}

fn ts_null(col: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone_null(col)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Pages::Table)
                .col(string_len(Pages::Id, 32).primary_key())
                .col(string(Pages::Name))
                .col(string(Pages::Url))
                .col(string(Pages::TimeZone))
                .col(ts(Pages::CreatedAt))
                .col(ts(Pages::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Components::Table)
                .col(string_len(Components::Id, 32).primary_key())
                .col(string_len(Components::PageId, 32))
                .col(string(Components::Name))
                .col(text_null(Components::Description))
                .col(string_len(Components::Status, 32))
                .col(boolean(Components::IsGroup))
                .col(string_len_null(Components::GroupId, 32))
                .col(integer(Components::Position))
                .col(boolean(Components::Showcase))
                .col(boolean(Components::OnlyShowIfDegraded))
                .col(date_null(Components::StartDate))
                .col(ts(Components::CreatedAt))
                .col(ts(Components::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Components::Table, Components::PageId)
                        .to(Pages::Table, Pages::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_components_page_position")
                .table(Components::Table)
                .col(Components::PageId)
                .col(Components::Position)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ComponentStatusChanges::Table)
                .col(
                    big_integer(ComponentStatusChanges::Id)
                        .primary_key()
                        .auto_increment(),
                )
                .col(string_len(ComponentStatusChanges::ComponentId, 32))
                .col(string_len(ComponentStatusChanges::OldStatus, 32))
                .col(string_len(ComponentStatusChanges::NewStatus, 32))
                .col(string_len_null(ComponentStatusChanges::IncidentId, 32))
                .col(ts(ComponentStatusChanges::At))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_component_status_changes_component_at")
                .table(ComponentStatusChanges::Table)
                .col(ComponentStatusChanges::ComponentId)
                .col(ComponentStatusChanges::At)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Incidents::Table)
                .col(string_len(Incidents::Id, 32).primary_key())
                .col(string_len(Incidents::PageId, 32))
                .col(string(Incidents::Name))
                .col(string_len(Incidents::Status, 32))
                .col(string_len(Incidents::Impact, 32))
                .col(string_len_null(Incidents::ImpactOverride, 32))
                .col(ts(Incidents::StartedAt))
                .col(ts(Incidents::CreatedAt))
                .col(ts(Incidents::UpdatedAt))
                .col(ts_null(Incidents::MonitoringAt))
                .col(ts_null(Incidents::ResolvedAt))
                .col(ts_null(Incidents::NextUpdateDueAt))
                .col(text_null(Incidents::PostmortemBody))
                .col(ts_null(Incidents::PostmortemBodyLastUpdatedAt))
                .col(ts_null(Incidents::PostmortemPublishedAt))
                .col(boolean(Incidents::PostmortemIgnored))
                .col(boolean(Incidents::PostmortemNotifiedSubscribers))
                .col(ts_null(Incidents::ScheduledFor))
                .col(ts_null(Incidents::ScheduledUntil))
                .col(boolean(Incidents::ScheduledRemindPrior))
                .col(boolean(Incidents::ScheduledAutoInProgress))
                .col(boolean(Incidents::ScheduledAutoCompleted))
                .col(text(Incidents::Metadata))
                .col(boolean(Incidents::Backfilled))
                .foreign_key(
                    ForeignKey::create()
                        .from(Incidents::Table, Incidents::PageId)
                        .to(Pages::Table, Pages::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_incidents_page_created")
                .table(Incidents::Table)
                .col(Incidents::PageId)
                .col(Incidents::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IncidentComponents::Table)
                .col(string_len(IncidentComponents::IncidentId, 32))
                .col(string_len(IncidentComponents::ComponentId, 32))
                .col(string_len(IncidentComponents::Status, 32))
                .primary_key(
                    Index::create()
                        .col(IncidentComponents::IncidentId)
                        .col(IncidentComponents::ComponentId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(IncidentComponents::Table, IncidentComponents::IncidentId)
                        .to(Incidents::Table, Incidents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(IncidentComponents::Table, IncidentComponents::ComponentId)
                        .to(Components::Table, Components::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IncidentUpdates::Table)
                .col(string_len(IncidentUpdates::Id, 32).primary_key())
                .col(string_len(IncidentUpdates::IncidentId, 32))
                .col(string_len(IncidentUpdates::Status, 32))
                .col(text(IncidentUpdates::Body))
                .col(ts(IncidentUpdates::CreatedAt))
                .col(ts(IncidentUpdates::UpdatedAt))
                .col(ts(IncidentUpdates::DisplayAt))
                .col(boolean(IncidentUpdates::DeliverNotifications))
                .col(text_null(IncidentUpdates::AffectedComponents))
                .col(string_null(IncidentUpdates::Template))
                .col(ts_null(IncidentUpdates::NextUpdateDueAt))
                .col(text_null(IncidentUpdates::CustomTweet))
                .foreign_key(
                    ForeignKey::create()
                        .from(IncidentUpdates::Table, IncidentUpdates::IncidentId)
                        .to(Incidents::Table, Incidents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_incident_updates_incident")
                .table(IncidentUpdates::Table)
                .col(IncidentUpdates::IncidentId)
                .col(IncidentUpdates::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(string_len(ApiTokens::Id, 32).primary_key())
                .col(string(ApiTokens::Name))
                .col(string_len(ApiTokens::Role, 16))
                .col(string_len(ApiTokens::TokenHash, 64).unique_key())
                .col(string_len(ApiTokens::Prefix, 16))
                .col(ts(ApiTokens::CreatedAt))
                .col(ts_null(ApiTokens::LastUsedAt))
                .col(ts_null(ApiTokens::RevokedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(big_integer(Events::Seq).primary_key().auto_increment())
                .col(string_len(Events::Kind, 64))
                .col(string_len(Events::SubjectType, 32))
                .col(string_len(Events::SubjectId, 32))
                .col(text(Events::Payload))
                .col(ts(Events::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(big_integer(AuditLog::Id).primary_key().auto_increment())
                .col(ts(AuditLog::At))
                .col(string_len_null(AuditLog::TokenId, 32))
                .col(string(AuditLog::Actor))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len(AuditLog::SubjectType, 32))
                .col(string_len(AuditLog::SubjectId, 32))
                .col(text(AuditLog::Detail))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(string_len(IdempotencyKeys::TokenId, 32))
                .col(string_len(IdempotencyKeys::Key, 255))
                .col(string_len(IdempotencyKeys::RequestHash, 64))
                .col(integer_null(IdempotencyKeys::ResponseStatus))
                .col(text_null(IdempotencyKeys::ResponseBody))
                .col(ts(IdempotencyKeys::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(IdempotencyKeys::TokenId)
                        .col(IdempotencyKeys::Key),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            IdempotencyKeys::Table.into_iden(),
            AuditLog::Table.into_iden(),
            Events::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            IncidentUpdates::Table.into_iden(),
            IncidentComponents::Table.into_iden(),
            Incidents::Table.into_iden(),
            ComponentStatusChanges::Table.into_iden(),
            Components::Table.into_iden(),
            Pages::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
