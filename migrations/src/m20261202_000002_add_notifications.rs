//! Who gets told and how it is delivered: subscribers (people and endpoints following
//! all components or a chosen set, or one incident), tenants (customer organisations with
//! contacts and the components they run on), the outbox (one row per notifying event,
//! written with the change) and the delivery ledger (one row per event, channel and
//! recipient, with its retry schedule and attempts). `pages.link_secret` signs the links
//! in mails (confirm, manage, unsubscribe).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pages {
    Table,
    Id,
    LinkSecret,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Subscribers {
    Table,
    Id,
    PageId,
    Mode,
    Email,
    Endpoint,
    AddressKey,
    IncidentId,
    State,
    SkipConfirmationNotification,
    ConfirmNonce,
    ManageNonce,
    BounceCount,
    QuarantinedAt,
    PurgeAt,
    ConfirmedAt,
    UnsubscribedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SubscriberComponents {
    Table,
    SubscriberId,
    ComponentId,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    PageId,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TenantContacts {
    Table,
    Id,
    TenantId,
    Kind,
    Address,
}

#[derive(DeriveIden)]
enum TenantComponents {
    Table,
    TenantId,
    ComponentId,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    EventSeq,
    State,
    Cursor,
    LeaseUntil,
    CreatedAt,
    DoneAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    EventSeq,
    IncidentId,
    UpdateId,
    Channel,
    Recipient,
    RecipientKind,
    SubscriberId,
    TenantId,
    State,
    Attempts,
    NextAttemptAt,
    DueSince,
    LeaseUntil,
    MessageId,
    LastError,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    Id,
    DeliveryId,
    At,
    Outcome,
    Error,
    DurationMs,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone(col)
}

fn ts_null(col: impl IntoIden) -> ColumnDef {
    timestamp_with_time_zone_null(col)
}

async fn index(
    m: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut i = Index::create();
    i.name(name).table(table.into_iden());
    for c in cols {
        i.col(c);
    }
    if unique {
        i.unique();
    }
    m.create_index(i.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Pages::Table)
                .add_column(string_null(Pages::LinkSecret))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Subscribers::Table)
                .col(string_len(Subscribers::Id, 32).primary_key())
                .col(string_len(Subscribers::PageId, 32))
                .col(string_len(Subscribers::Mode, 16))
                .col(string_null(Subscribers::Email))
                .col(text_null(Subscribers::Endpoint))
                .col(text(Subscribers::AddressKey))
                .col(string_len_null(Subscribers::IncidentId, 32))
                .col(string_len(Subscribers::State, 16))
                .col(boolean(Subscribers::SkipConfirmationNotification))
                .col(string_len(Subscribers::ConfirmNonce, 32))
                .col(string_len(Subscribers::ManageNonce, 32))
                .col(integer(Subscribers::BounceCount).default(0))
                .col(ts_null(Subscribers::QuarantinedAt))
                .col(ts_null(Subscribers::PurgeAt))
                .col(ts_null(Subscribers::ConfirmedAt))
                .col(ts_null(Subscribers::UnsubscribedAt))
                .col(ts(Subscribers::CreatedAt))
                .col(ts(Subscribers::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Subscribers::Table, Subscribers::PageId)
                        .to(Pages::Table, Pages::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Subscribers::Table, Subscribers::IncidentId)
                        .to(Incidents::Table, Incidents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_subscribers_address",
            Subscribers::Table,
            vec![Subscribers::AddressKey.into_iden()],
            true,
        )
        .await?;
        index(
            m,
            "idx_subscribers_state",
            Subscribers::Table,
            vec![Subscribers::State.into_iden(), Subscribers::Id.into_iden()],
            false,
        )
        .await?;
        index(
            m,
            "idx_subscribers_incident",
            Subscribers::Table,
            vec![Subscribers::IncidentId.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SubscriberComponents::Table)
                .col(string_len(SubscriberComponents::SubscriberId, 32))
                .col(string_len(SubscriberComponents::ComponentId, 32))
                .primary_key(
                    Index::create()
                        .col(SubscriberComponents::SubscriberId)
                        .col(SubscriberComponents::ComponentId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(
                            SubscriberComponents::Table,
                            SubscriberComponents::SubscriberId,
                        )
                        .to(Subscribers::Table, Subscribers::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_subscriber_components_component",
            SubscriberComponents::Table,
            vec![SubscriberComponents::ComponentId.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tenants::Table)
                .col(string_len(Tenants::Id, 32).primary_key())
                .col(string_len(Tenants::PageId, 32))
                .col(string(Tenants::Name))
                .col(ts(Tenants::CreatedAt))
                .col(ts(Tenants::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Tenants::Table, Tenants::PageId)
                        .to(Pages::Table, Pages::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TenantContacts::Table)
                .col(
                    big_integer(TenantContacts::Id)
                        .primary_key()
                        .auto_increment(),
                )
                .col(string_len(TenantContacts::TenantId, 32))
                .col(string_len(TenantContacts::Kind, 16))
                .col(text(TenantContacts::Address))
                .foreign_key(
                    ForeignKey::create()
                        .from(TenantContacts::Table, TenantContacts::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_tenant_contacts_tenant",
            TenantContacts::Table,
            vec![TenantContacts::TenantId.into_iden()],
            false,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TenantComponents::Table)
                .col(string_len(TenantComponents::TenantId, 32))
                .col(string_len(TenantComponents::ComponentId, 32))
                .primary_key(
                    Index::create()
                        .col(TenantComponents::TenantId)
                        .col(TenantComponents::ComponentId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(TenantComponents::Table, TenantComponents::TenantId)
                        .to(Tenants::Table, Tenants::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(big_integer(Outbox::Id).primary_key().auto_increment())
                .col(big_integer(Outbox::EventSeq))
                .col(string_len(Outbox::State, 16))
                .col(text_null(Outbox::Cursor))
                .col(ts_null(Outbox::LeaseUntil))
                .col(ts(Outbox::CreatedAt))
                .col(ts_null(Outbox::DoneAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_outbox_event",
            Outbox::Table,
            vec![Outbox::EventSeq.into_iden()],
            true,
        )
        .await?;
        index(
            m,
            "idx_outbox_state",
            Outbox::Table,
            vec![Outbox::State.into_iden(), Outbox::Id.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Deliveries::Table)
                .col(big_integer(Deliveries::Id).primary_key().auto_increment())
                .col(big_integer(Deliveries::EventSeq))
                .col(string_len_null(Deliveries::IncidentId, 32))
                .col(string_len_null(Deliveries::UpdateId, 32))
                .col(string_len(Deliveries::Channel, 16))
                .col(text(Deliveries::Recipient))
                .col(string_len(Deliveries::RecipientKind, 24))
                .col(string_len_null(Deliveries::SubscriberId, 32))
                .col(string_len_null(Deliveries::TenantId, 32))
                .col(string_len(Deliveries::State, 16))
                .col(integer(Deliveries::Attempts).default(0))
                .col(ts(Deliveries::NextAttemptAt))
                .col(ts(Deliveries::DueSince))
                .col(ts_null(Deliveries::LeaseUntil))
                .col(text(Deliveries::MessageId))
                .col(text_null(Deliveries::LastError))
                .col(ts(Deliveries::CreatedAt))
                .col(ts(Deliveries::UpdatedAt))
                .col(ts_null(Deliveries::DeliveredAt))
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_deliveries_key",
            Deliveries::Table,
            vec![
                Deliveries::EventSeq.into_iden(),
                Deliveries::Channel.into_iden(),
                Deliveries::Recipient.into_iden(),
            ],
            true,
        )
        .await?;
        index(
            m,
            "idx_deliveries_due",
            Deliveries::Table,
            vec![
                Deliveries::State.into_iden(),
                Deliveries::NextAttemptAt.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            m,
            "idx_deliveries_incident",
            Deliveries::Table,
            vec![Deliveries::IncidentId.into_iden()],
            false,
        )
        .await?;
        index(
            m,
            "idx_deliveries_recipient",
            Deliveries::Table,
            vec![Deliveries::Recipient.into_iden()],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table(DeliveryAttempts::Table)
                .col(
                    big_integer(DeliveryAttempts::Id)
                        .primary_key()
                        .auto_increment(),
                )
                .col(big_integer(DeliveryAttempts::DeliveryId))
                .col(ts(DeliveryAttempts::At))
                .col(string_len(DeliveryAttempts::Outcome, 16))
                .col(text_null(DeliveryAttempts::Error))
                .col(integer(DeliveryAttempts::DurationMs))
                .foreign_key(
                    ForeignKey::create()
                        .from(DeliveryAttempts::Table, DeliveryAttempts::DeliveryId)
                        .to(Deliveries::Table, Deliveries::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "idx_delivery_attempts_delivery",
            DeliveryAttempts::Table,
            vec![DeliveryAttempts::DeliveryId.into_iden()],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            DeliveryAttempts::Table.into_iden(),
            Deliveries::Table.into_iden(),
            Outbox::Table.into_iden(),
            TenantComponents::Table.into_iden(),
            TenantContacts::Table.into_iden(),
            Tenants::Table.into_iden(),
            SubscriberComponents::Table.into_iden(),
            Subscribers::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Pages::Table)
                .drop_column(Pages::LinkSecret)
                .to_owned(),
        )
        .await
    }
}
