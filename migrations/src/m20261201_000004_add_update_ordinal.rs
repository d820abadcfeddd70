//! An update's place in its incident's timeline, so updates made at the same instant
//! (an import, a script, a fast client) keep the order they were made in.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IncidentUpdates {
    Table,
    Ordinal,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(IncidentUpdates::Table)
                .add_column(integer(IncidentUpdates::Ordinal).default(0))
                .to_owned(),
        )
        .await?;
        // Existing updates: their order of creation (ids break ties).
        m.get_connection()
            .execute_unprepared(
                "UPDATE incident_updates SET ordinal = (SELECT COUNT(*) FROM incident_updates u2 \
                 WHERE u2.incident_id = incident_updates.incident_id \
                 AND (u2.created_at < incident_updates.created_at \
                 OR (u2.created_at = incident_updates.created_at AND u2.id < incident_updates.id)))",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(IncidentUpdates::Table)
                .drop_column(IncidentUpdates::Ordinal)
                .to_owned(),
        )
        .await
    }
}
