//! The page's Statuspage `subdomain`, settable; NULL means "derive it from the URL".

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pages {
    Table,
    Subdomain,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Pages::Table)
                .add_column(string_len_null(Pages::Subdomain, 63))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Pages::Table)
                .drop_column(Pages::Subdomain)
                .to_owned(),
        )
        .await
    }
}
