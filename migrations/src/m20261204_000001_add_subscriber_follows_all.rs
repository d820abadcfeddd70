//! Whether a subscriber follows the whole page (no chosen components), kept on its row,
//! and the follows indexed by component then subscriber: the expander reads those who
//! follow everything and, component by component, those who follow one that is affected,
//! each as an ordered index range, so a small incident on a page of many subscribers
//! costs what its audience costs and not a pass over every subscriber. Deliveries in
//! flight are indexed by the end of their lease, so a sender learns when to look again
//! without reading the delivered history.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Subscribers {
    Table,
    PageId,
    State,
    FollowsAll,
    Id,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    State,
    LeaseUntil,
}

#[derive(DeriveIden)]
enum SubscriberComponents {
    Table,
    ComponentId,
    SubscriberId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Subscribers::Table)
                .add_column(boolean(Subscribers::FollowsAll).default(true))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "UPDATE subscribers SET follows_all = FALSE WHERE EXISTS \
                 (SELECT 1 FROM subscriber_components f WHERE f.subscriber_id = subscribers.id)",
            )
            .await?;
        m.create_index(
            Index::create()
                .name("idx_subscribers_follows_all")
                .table(Subscribers::Table)
                .col(Subscribers::PageId)
                .col(Subscribers::State)
                .col(Subscribers::FollowsAll)
                .col(Subscribers::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_subscriber_components_followers")
                .table(SubscriberComponents::Table)
                .col(SubscriberComponents::ComponentId)
                .col(SubscriberComponents::SubscriberId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_deliveries_lease")
                .table(Deliveries::Table)
                .col(Deliveries::State)
                .col(Deliveries::LeaseUntil)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_deliveries_lease")
                .table(Deliveries::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_subscriber_components_followers")
                .table(SubscriberComponents::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_subscribers_follows_all")
                .table(Subscribers::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Subscribers::Table)
                .drop_column(Subscribers::FollowsAll)
                .to_owned(),
        )
        .await
    }
}
