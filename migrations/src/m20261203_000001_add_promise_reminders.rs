//! Kept promises: the page's support contact and responders (who are reminded before a
//! promised update is due, and how long before), whether the public incident page shows
//! the time to the first update, and one row per reminder made, so a promise is
//! reminded once however many instances run and however often they restart.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pages {
    Table,
    SupportUrl,
    ResponderEmails,
    ResponderWebhookUrl,
    ReminderLeadMinutes,
    ShowFirstUpdateDelay,
}

#[derive(DeriveIden)]
enum Incidents {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PromiseReminders {
    Table,
    IncidentId,
    DueAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        let columns: [ColumnDef; 5] = [
            string_null(Pages::SupportUrl),
            text_null(Pages::ResponderEmails),
            string_null(Pages::ResponderWebhookUrl),
            integer(Pages::ReminderLeadMinutes).default(5).to_owned(),
            boolean(Pages::ShowFirstUpdateDelay)
                .default(false)
                .to_owned(),
        ];
        for mut c in columns {
            m.alter_table(
                Table::alter()
                    .table(Pages::Table)
                    .add_column(&mut c)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(PromiseReminders::Table)
                .col(string_len(PromiseReminders::IncidentId, 32))
                .col(timestamp_with_time_zone(PromiseReminders::DueAt))
                .col(timestamp_with_time_zone(PromiseReminders::CreatedAt))
                .primary_key(
                    Index::create()
                        .col(PromiseReminders::IncidentId)
                        .col(PromiseReminders::DueAt),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(PromiseReminders::Table, PromiseReminders::IncidentId)
                        .to(Incidents::Table, Incidents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PromiseReminders::Table).to_owned())
            .await?;
        for c in [
            Pages::ShowFirstUpdateDelay,
            Pages::ReminderLeadMinutes,
            Pages::ResponderWebhookUrl,
            Pages::ResponderEmails,
            Pages::SupportUrl,
        ] {
            m.alter_table(Table::alter().table(Pages::Table).drop_column(c).to_owned())
                .await?;
        }
        Ok(())
    }
}
