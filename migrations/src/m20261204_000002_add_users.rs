//! People who use the console: users with a role (the roles API tokens have), one-time
//! sign-in links (only a SHA-256 of each token is kept) and console sessions (only a
//! SHA-256 of each session id is kept, with the session's CSRF secret).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Pages {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    PageId,
    Email,
    /// The address lowercased: unique per page.
    EmailKey,
    Name,
    Role,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum SignInLinks {
    Table,
    Id,
    UserId,
    TokenHash,
    Purpose,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
    IdHash,
    UserId,
    CsrfSecret,
    CreatedAt,
    LastSeenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(string_len(Users::Id, 32).primary_key())
                .col(string_len(Users::PageId, 32))
                .col(string_len(Users::Email, 254))
                .col(string_len(Users::EmailKey, 254))
                .col(string_len(Users::Name, 255))
                .col(string_len(Users::Role, 16))
                .col(text_null(Users::PasswordHash))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .col(timestamp_with_time_zone_null(Users::DisabledAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Users::Table, Users::PageId)
                        .to(Pages::Table, Pages::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("users_page_email_key")
                .table(Users::Table)
                .col(Users::PageId)
                .col(Users::EmailKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SignInLinks::Table)
                .col(string_len(SignInLinks::Id, 32).primary_key())
                .col(string_len(SignInLinks::UserId, 32))
                .col(string_len(SignInLinks::TokenHash, 64).unique_key())
                .col(string_len(SignInLinks::Purpose, 16))
                .col(timestamp_with_time_zone(SignInLinks::CreatedAt))
                .col(timestamp_with_time_zone(SignInLinks::ExpiresAt))
                .col(timestamp_with_time_zone_null(SignInLinks::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(SignInLinks::Table, SignInLinks::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ConsoleSessions::Table)
                .col(string_len(ConsoleSessions::IdHash, 64).primary_key())
                .col(string_len(ConsoleSessions::UserId, 32))
                .col(string_len(ConsoleSessions::CsrfSecret, 64))
                .col(timestamp_with_time_zone(ConsoleSessions::CreatedAt))
                .col(timestamp_with_time_zone(ConsoleSessions::LastSeenAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ConsoleSessions::Table, ConsoleSessions::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("console_sessions_user")
                .table(ConsoleSessions::Table)
                .col(ConsoleSessions::UserId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("sign_in_links_user")
                .table(SignInLinks::Table)
                .col(SignInLinks::UserId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ConsoleSessions::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(SignInLinks::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Users::Table).to_owned())
            .await?;
        Ok(())
    }
}
