//! Indexes for the reads a page does on every change, so their cost does not grow with
//! the page's history: the incidents by status, the components' recent status changes,
//! and the incidents that hold a component.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Incidents {
    Table,
    PageId,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ComponentStatusChanges {
    Table,
    At,
}

#[derive(DeriveIden)]
enum IncidentComponents {
    Table,
    ComponentId,
}

const INDEXES: [&str; 3] = [
    "idx_incidents_page_status",
    "idx_component_status_changes_at",
    "idx_incident_components_component",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(INDEXES[0])
                .table(Incidents::Table)
                .col(Incidents::PageId)
                .col(Incidents::Status)
                .col(Incidents::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(INDEXES[1])
                .table(ComponentStatusChanges::Table)
                .col(ComponentStatusChanges::At)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(INDEXES[2])
                .table(IncidentComponents::Table)
                .col(IncidentComponents::ComponentId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            "incidents",
            "component_status_changes",
            "incident_components",
        ];
        for (name, table) in INDEXES.iter().zip(tables) {
            m.drop_index(
                Index::drop()
                    .name(*name)
                    .table(Alias::new(table))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
