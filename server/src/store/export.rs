//! `herald export` and `herald import`: the whole page as one JSON document, the
//! supported way between SQLite and PostgreSQL and the format other importers write.
//!
//! The document holds every record with its id, so an import answers exactly as the
//! export's source did: the page, components and groups, their status history,
//! incidents and maintenances with their updates and affected components (postmortems
//! included), API tokens (as hashes: secrets are never stored), the event log and the
//! audit log, subscribers and tenants with what they follow, and the notification
//! outbox and delivery ledger (so a move between databases neither loses nor repeats a
//! mail), webhook endpoints' state, incident templates and their groups, and the
//! promises already reminded, and the console's users with their roles and Argon2id
//! password hashes (so people sign in after a move as before; the document is as
//! secret as the database, which it already is for webhook signing secrets). Console
//! sessions and one-time sign-in links are never written: after an import everyone
//! signs in again, and a link mailed before the export no longer works. Impact periods
//! are not written: they are derived again at the first start.
//! Each later kind of record adds a key; older documents simply lack it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, QueryOrder,
    Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::domain::IncidentId;

use super::{
    Result, StoreError, database,
    entity::{
        api_tokens, audit_log, component_status_changes, components, deliveries, delivery_attempts,
        endpoints, events, incident_components, incident_templates, incident_updates, incidents,
        maintenance_notices, maintenance_series, outbox, pages, promise_reminders,
        series_occurrences, subscriber_components, subscribers, template_groups, tenant_components,
        tenant_contacts, tenants, users,
    },
};

pub const FORMAT: &str = "herald-export";
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Incident {
    #[serde(flatten)]
    pub incident: incidents::Model,
    /// Oldest first.
    pub updates: Vec<incident_updates::Model>,
    pub components: Vec<incident_components::Model>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Document {
    /// Always `herald-export`.
    pub format: String,
    /// The document's version (this is 1).
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    /// The Herald that wrote it.
    pub herald: String,
    pub pages: Vec<pages::Model>,
    /// Groups first, then components, each by position.
    pub components: Vec<components::Model>,
    pub component_status_changes: Vec<component_status_changes::Model>,
    pub incidents: Vec<Incident>,
    pub api_tokens: Vec<api_tokens::Model>,
    pub events: Vec<events::Model>,
    pub audit_log: Vec<audit_log::Model>,
    #[serde(default)]
    pub subscribers: Vec<subscribers::Model>,
    #[serde(default)]
    pub subscriber_components: Vec<subscriber_components::Model>,
    #[serde(default)]
    pub tenants: Vec<tenants::Model>,
    #[serde(default)]
    pub tenant_contacts: Vec<tenant_contacts::Model>,
    #[serde(default)]
    pub tenant_components: Vec<tenant_components::Model>,
    #[serde(default)]
    pub outbox: Vec<outbox::Model>,
    #[serde(default)]
    pub deliveries: Vec<deliveries::Model>,
    #[serde(default)]
    pub delivery_attempts: Vec<delivery_attempts::Model>,
    /// Webhook and chat endpoints: failing since when, paused or not.
    #[serde(default)]
    pub endpoints: Vec<endpoints::Model>,
    #[serde(default)]
    pub template_groups: Vec<template_groups::Model>,
    #[serde(default)]
    pub incident_templates: Vec<incident_templates::Model>,
    /// The promises already reminded, so a move does not remind them again.
    #[serde(default)]
    pub promise_reminders: Vec<promise_reminders::Model>,
    /// The maintenance reminders and overrun notices already made.
    #[serde(default)]
    pub maintenance_notices: Vec<maintenance_notices::Model>,
    /// Recurring maintenances and the occurrences made from them.
    #[serde(default)]
    pub maintenance_series: Vec<maintenance_series::Model>,
    #[serde(default)]
    pub series_occurrences: Vec<series_occurrences::Model>,
    /// The console's users (password hashes included; sessions and sign-in links never).
    #[serde(default)]
    pub users: Vec<users::Model>,
}

/// Reads everything into one document.
pub async fn export(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Document> {
    let mut components = components::Entity::find()
        .order_by_asc(components::Column::Position)
        .all(db)
        .await?;
    components.sort_by_key(|c| !c.is_group);
    let mut updates: HashMap<IncidentId, Vec<incident_updates::Model>> = HashMap::new();
    for u in incident_updates::Entity::find()
        .order_by_asc(incident_updates::Column::IncidentId)
        .order_by_asc(incident_updates::Column::Ordinal)
        .all(db)
        .await?
    {
        updates.entry(u.incident_id.clone()).or_default().push(u);
    }
    let mut links: HashMap<IncidentId, Vec<incident_components::Model>> = HashMap::new();
    for l in incident_components::Entity::find().all(db).await? {
        links.entry(l.incident_id.clone()).or_default().push(l);
    }
    let incidents = incidents::Entity::find()
        .order_by_asc(incidents::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|incident| Incident {
            updates: updates.remove(&incident.id).unwrap_or_default(),
            components: links.remove(&incident.id).unwrap_or_default(),
            incident,
        })
        .collect();
    Ok(Document {
        format: FORMAT.to_owned(),
        version: VERSION,
        exported_at: now,
        herald: env!("CARGO_PKG_VERSION").to_owned(),
        pages: pages::Entity::find().all(db).await?,
        components,
        component_status_changes: component_status_changes::Entity::find()
            .order_by_asc(component_status_changes::Column::Id)
            .all(db)
            .await?,
        incidents,
        api_tokens: api_tokens::Entity::find()
            .order_by_asc(api_tokens::Column::CreatedAt)
            .all(db)
            .await?,
        events: events::Entity::find()
            .order_by_asc(events::Column::Seq)
            .all(db)
            .await?,
        audit_log: audit_log::Entity::find()
            .order_by_asc(audit_log::Column::Id)
            .all(db)
            .await?,
        subscribers: subscribers::Entity::find()
            .order_by_asc(subscribers::Column::CreatedAt)
            .all(db)
            .await?,
        subscriber_components: subscriber_components::Entity::find().all(db).await?,
        tenants: tenants::Entity::find()
            .order_by_asc(tenants::Column::CreatedAt)
            .all(db)
            .await?,
        tenant_contacts: tenant_contacts::Entity::find()
            .order_by_asc(tenant_contacts::Column::Id)
            .all(db)
            .await?,
        tenant_components: tenant_components::Entity::find().all(db).await?,
        outbox: outbox::Entity::find()
            .order_by_asc(outbox::Column::Id)
            .all(db)
            .await?,
        deliveries: deliveries::Entity::find()
            .order_by_asc(deliveries::Column::Id)
            .all(db)
            .await?,
        delivery_attempts: delivery_attempts::Entity::find()
            .order_by_asc(delivery_attempts::Column::Id)
            .all(db)
            .await?,
        endpoints: endpoints::Entity::find()
            .order_by_asc(endpoints::Column::Id)
            .all(db)
            .await?,
        template_groups: template_groups::Entity::find()
            .order_by_asc(template_groups::Column::CreatedAt)
            .all(db)
            .await?,
        incident_templates: incident_templates::Entity::find()
            .order_by_asc(incident_templates::Column::Position)
            .all(db)
            .await?,
        promise_reminders: promise_reminders::Entity::find().all(db).await?,
        maintenance_notices: maintenance_notices::Entity::find().all(db).await?,
        maintenance_series: maintenance_series::Entity::find()
            .order_by_asc(maintenance_series::Column::CreatedAt)
            .all(db)
            .await?,
        series_occurrences: series_occurrences::Entity::find().all(db).await?,
        users: users::Entity::find()
            .order_by_asc(users::Column::CreatedAt)
            .order_by_asc(users::Column::Id)
            .all(db)
            .await?,
    })
}

/// Rows per INSERT: well under SQLite's limit on bound values.
const BATCH: usize = 200;

async fn insert_all<E, M>(db: &impl ConnectionTrait, rows: Vec<M>) -> Result<()>
where
    E: EntityTrait<Model = M>,
    M: sea_orm::ModelTrait<Entity = E> + sea_orm::IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: Send,
{
    let mut rows = rows
        .into_iter()
        .map(sea_orm::IntoActiveModel::into_active_model);
    loop {
        let batch: Vec<E::ActiveModel> = rows.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            return Ok(());
        }
        E::insert_many(batch).exec_without_returning(db).await?;
    }
}

/// Writes `doc` into an empty, migrated database in one transaction.
pub async fn import(db: &DatabaseConnection, doc: Document) -> Result<()> {
    if doc.format != FORMAT || doc.version != VERSION {
        return Err(StoreError::Open(format!(
            "this is not a Herald export this version reads (format '{}', version {}; expected '{FORMAT}', version {VERSION})",
            doc.format, doc.version
        )));
    }
    if pages::Entity::find().count(db).await? > 0 {
        return Err(StoreError::Open(
            "the database already holds a page; import only into an empty database".into(),
        ));
    }
    let txn = db.begin().await?;
    // Impact periods are not in the document: derived again at the first start. A
    // document without templates (older ones lack the key) gets the shipped set.
    let no_templates = doc.incident_templates.is_empty();
    let pages: Vec<pages::Model> = doc
        .pages
        .into_iter()
        .map(|p| pages::Model {
            derived_version: 0,
            templates_seeded: p.templates_seeded && !no_templates,
            ..p
        })
        .collect();
    insert_all::<pages::Entity, _>(&txn, pages).await?;
    insert_all::<users::Entity, _>(&txn, doc.users).await?;
    insert_all::<components::Entity, _>(&txn, doc.components).await?;
    let (mut rows, mut ups, mut links) = (Vec::new(), Vec::new(), Vec::new());
    for i in doc.incidents {
        rows.push(i.incident);
        ups.extend(i.updates);
        links.extend(i.components);
    }
    insert_all::<incidents::Entity, _>(&txn, rows).await?;
    insert_all::<incident_updates::Entity, _>(&txn, ups).await?;
    insert_all::<incident_components::Entity, _>(&txn, links).await?;
    insert_all::<component_status_changes::Entity, _>(&txn, doc.component_status_changes).await?;
    insert_all::<api_tokens::Entity, _>(&txn, doc.api_tokens).await?;
    insert_all::<events::Entity, _>(&txn, doc.events).await?;
    insert_all::<audit_log::Entity, _>(&txn, doc.audit_log).await?;
    insert_all::<subscribers::Entity, _>(&txn, doc.subscribers).await?;
    insert_all::<subscriber_components::Entity, _>(&txn, doc.subscriber_components).await?;
    super::subscribers::derive_follows_all(&txn).await?;
    insert_all::<tenants::Entity, _>(&txn, doc.tenants).await?;
    insert_all::<tenant_contacts::Entity, _>(&txn, doc.tenant_contacts).await?;
    insert_all::<tenant_components::Entity, _>(&txn, doc.tenant_components).await?;
    insert_all::<outbox::Entity, _>(&txn, doc.outbox).await?;
    insert_all::<deliveries::Entity, _>(&txn, doc.deliveries).await?;
    insert_all::<delivery_attempts::Entity, _>(&txn, doc.delivery_attempts).await?;
    insert_all::<endpoints::Entity, _>(&txn, doc.endpoints).await?;
    insert_all::<template_groups::Entity, _>(&txn, doc.template_groups).await?;
    insert_all::<incident_templates::Entity, _>(&txn, doc.incident_templates).await?;
    insert_all::<promise_reminders::Entity, _>(&txn, doc.promise_reminders).await?;
    insert_all::<maintenance_notices::Entity, _>(&txn, doc.maintenance_notices).await?;
    insert_all::<maintenance_series::Entity, _>(&txn, doc.maintenance_series).await?;
    insert_all::<series_occurrences::Entity, _>(&txn, doc.series_occurrences).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // Rows came with their ids: move each sequence past them.
        for (table, column) in [
            ("events", "seq"),
            ("audit_log", "id"),
            ("component_status_changes", "id"),
            ("tenant_contacts", "id"),
            ("outbox", "id"),
            ("deliveries", "id"),
            ("delivery_attempts", "id"),
            ("endpoints", "id"),
        ] {
            txn.execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                     COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                ),
            ))
            .await?;
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Opens `url` for an import: created and migrated if need be.
pub async fn open_for_import(url: &str) -> Result<(DatabaseConnection, database::Target)> {
    let (db, target) = database::connect(url, database::Mode::Create).await?;
    database::migrate(&db).await?;
    Ok((db, target))
}
