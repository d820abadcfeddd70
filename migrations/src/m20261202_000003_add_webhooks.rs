//! Webhooks and chat: each endpoint subscriber's signing secret (and the previous one
//! during a rotation), tenant webhook contacts' secrets, what an attempt got back (status
//! code and the start of the response), and per endpoint (channel and URL) since when it
//! has been failing, when its owner was told and whether it is paused. An index lets the
//! sender find an endpoint's earlier deliveries quickly (one in flight per endpoint, in
//! event order).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscribers {
    Table,
    SigningSecret,
    PreviousSecret,
    PreviousSecretUntil,
}

#[derive(DeriveIden)]
enum TenantContacts {
    Table,
    SigningSecret,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    StatusCode,
    Response,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Channel,
    Recipient,
    EventSeq,
}

#[derive(DeriveIden)]
enum Endpoints {
    Table,
    Id,
    Channel,
    Url,
    FailingSince,
    WarnedAt,
    PausedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column at a time.
        for col in [
            text_null(Subscribers::SigningSecret),
            text_null(Subscribers::PreviousSecret),
            timestamp_with_time_zone_null(Subscribers::PreviousSecretUntil),
        ] {
            let mut col = col;
            m.alter_table(
                Table::alter()
                    .table(Subscribers::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(TenantContacts::Table)
                .add_column(text_null(TenantContacts::SigningSecret))
                .to_owned(),
        )
        .await?;
        for col in [
            integer_null(DeliveryAttempts::StatusCode),
            text_null(DeliveryAttempts::Response),
        ] {
            let mut col = col;
            m.alter_table(
                Table::alter()
                    .table(DeliveryAttempts::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_deliveries_endpoint_order")
                .table(Deliveries::Table)
                .col(Deliveries::Channel)
                .col(Deliveries::Recipient)
                .col(Deliveries::EventSeq)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Endpoints::Table)
                .col(big_integer(Endpoints::Id).primary_key().auto_increment())
                .col(string_len(Endpoints::Channel, 16))
                .col(text(Endpoints::Url))
                .col(timestamp_with_time_zone_null(Endpoints::FailingSince))
                .col(timestamp_with_time_zone_null(Endpoints::WarnedAt))
                .col(timestamp_with_time_zone_null(Endpoints::PausedAt))
                .col(timestamp_with_time_zone(Endpoints::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_endpoints_key")
                .table(Endpoints::Table)
                .col(Endpoints::Channel)
                .col(Endpoints::Url)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Endpoints::Table).to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("idx_deliveries_endpoint_order")
                .table(Deliveries::Table)
                .to_owned(),
        )
        .await?;
        for (t, c) in [
            (
                DeliveryAttempts::Table.into_iden(),
                DeliveryAttempts::Response.into_iden(),
            ),
            (
                DeliveryAttempts::Table.into_iden(),
                DeliveryAttempts::StatusCode.into_iden(),
            ),
            (
                TenantContacts::Table.into_iden(),
                TenantContacts::SigningSecret.into_iden(),
            ),
            (
                Subscribers::Table.into_iden(),
                Subscribers::PreviousSecretUntil.into_iden(),
            ),
            (
                Subscribers::Table.into_iden(),
                Subscribers::PreviousSecret.into_iden(),
            ),
            (
                Subscribers::Table.into_iden(),
                Subscribers::SigningSecret.into_iden(),
            ),
        ] {
            m.alter_table(Table::alter().table(t).drop_column(c).to_owned())
                .await?;
        }
        Ok(())
    }
}
