//! The audit log read by subject (everything done to one incident, component, person)
//! and by who did it, newest first, as index ranges: the console's audit page filters
//! by either without reading the whole log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    SubjectId,
    Actor,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_audit_log_subject")
                .table(AuditLog::Table)
                .col(AuditLog::SubjectId)
                .col(AuditLog::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_actor")
                .table(AuditLog::Table)
                .col(AuditLog::Actor)
                .col(AuditLog::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_audit_log_actor")
                .table(AuditLog::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("idx_audit_log_subject")
                .table(AuditLog::Table)
                .to_owned(),
        )
        .await
    }
}
