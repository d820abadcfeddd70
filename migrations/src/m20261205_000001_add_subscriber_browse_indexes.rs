//! Indexes for the console's subscriber list, so a page of it costs the same at
//! 100,000 subscribers as at ten: the page's subscribers in address order (a search
//! is a prefix of the address, a range of this index), the same within one state,
//! and the counts by channel and state read from the index alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscribers {
    Table,
    PageId,
    AddressKey,
    State,
    IncidentId,
    Mode,
}

const INDEXES: [&str; 3] = [
    "idx_subscribers_page_address",
    "idx_subscribers_page_state_address",
    "idx_subscribers_page_counts",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(INDEXES[0])
                .table(Subscribers::Table)
                .col(Subscribers::PageId)
                .col(Subscribers::AddressKey)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(INDEXES[1])
                .table(Subscribers::Table)
                .col(Subscribers::PageId)
                .col(Subscribers::State)
                .col(Subscribers::AddressKey)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(INDEXES[2])
                .table(Subscribers::Table)
                .col(Subscribers::PageId)
                .col(Subscribers::IncidentId)
                .col(Subscribers::Mode)
                .col(Subscribers::State)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in INDEXES {
            m.drop_index(
                Index::drop()
                    .name(name)
                    .table(Subscribers::Table)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
