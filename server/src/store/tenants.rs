//! Tenants: customer organisations, their contacts and the components or groups (pods)
//! they run on. An incident reaches exactly the tenants whose components it affects.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use serde_json::json;

use super::{
    Result, StoreError, Write,
    entity::{tenant_components as runs_on, tenant_contacts as contacts, tenants},
    new_id,
    subscribers::check_components,
};
use crate::domain::{Channel, ComponentId, Event, PageId, TenantId, notify, text};

/// The most contacts one tenant has.
pub const MAX_CONTACTS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub kind: Channel,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub contacts: Vec<Contact>,
    /// Components and groups.
    pub runs_on: Vec<ComponentId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Signing secrets made by this change for new endpoint contacts (URL, secret): shown
    /// once, in the response that made them.
    pub fresh_secrets: Vec<(String, String)>,
}

/// Fields to set; `None` leaves one alone.
#[derive(Debug, Clone, Default)]
pub struct TenantChanges {
    pub name: Option<String>,
    pub contacts: Option<Vec<Contact>>,
    pub runs_on: Option<Vec<ComponentId>>,
}

fn check_contacts(contacts: &[Contact]) -> Result<Vec<Contact>> {
    if contacts.len() > MAX_CONTACTS {
        return Err(StoreError::invalid(
            "emails",
            format!("a tenant has at most {MAX_CONTACTS} contacts"),
        ));
    }
    let mut out: Vec<Contact> = Vec::new();
    for (n, c) in contacts.iter().enumerate() {
        let address = match c.kind {
            Channel::Email => notify::email(&format!("emails.{n}"), &c.address)?,
            _ => notify::endpoint(&format!("webhooks.{n}"), &c.address)?,
        };
        if !out
            .iter()
            .any(|o| o.kind == c.kind && o.address.eq_ignore_ascii_case(&address))
        {
            out.push(Contact {
                kind: c.kind,
                address,
            });
        }
    }
    Ok(out)
}

async fn write_links(
    db: &impl ConnectionTrait,
    id: &TenantId,
    contacts_: Option<&[Contact]>,
    comps: Option<&[ComponentId]>,
) -> Result<Vec<(String, String)>> {
    let mut fresh = Vec::new();
    if let Some(list) = contacts_ {
        // Endpoints kept keep their secrets; new ones get one.
        let old: HashMap<(Channel, String), Option<String>> = contacts::Entity::find()
            .filter(contacts::Column::TenantId.eq(id.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(|c| ((c.kind, c.address), c.signing_secret))
            .collect();
        let secrets: Vec<Option<String>> = list
            .iter()
            .map(|c| {
                if c.kind == Channel::Email {
                    return None;
                }
                match old.get(&(c.kind, c.address.clone())).cloned().flatten() {
                    Some(s) => Some(s),
                    None => {
                        let s = crate::domain::webhook::new_secret();
                        fresh.push((c.address.clone(), s.clone()));
                        Some(s)
                    }
                }
            })
            .collect();
        contacts::Entity::delete_many()
            .filter(contacts::Column::TenantId.eq(id.clone()))
            .exec(db)
            .await?;
        let rows: Vec<(&Contact, Option<String>)> = list.iter().zip(secrets).collect();
        for chunk in rows.chunks(100) {
            contacts::Entity::insert_many(chunk.iter().map(|(c, secret)| contacts::ActiveModel {
                tenant_id: Set(id.clone()),
                kind: Set(c.kind),
                address: Set(c.address.clone()),
                signing_secret: Set(secret.clone()),
                ..Default::default()
            }))
            .exec_without_returning(db)
            .await?;
        }
    }
    if let Some(list) = comps {
        runs_on::Entity::delete_many()
            .filter(runs_on::Column::TenantId.eq(id.clone()))
            .exec(db)
            .await?;
        for chunk in list.chunks(200) {
            runs_on::Entity::insert_many(chunk.iter().map(|c| runs_on::ActiveModel {
                tenant_id: Set(id.clone()),
                component_id: Set(c.clone()),
            }))
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(fresh)
}

/// The signing secret of a tenant's endpoint contact.
pub async fn contact_secret(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    kind: Channel,
    address: &str,
) -> Result<Option<String>> {
    Ok(contacts::Entity::find()
        .filter(contacts::Column::TenantId.eq(tenant.clone()))
        .filter(contacts::Column::Kind.eq(kind))
        .filter(contacts::Column::Address.eq(address))
        .one(db)
        .await?
        .and_then(|c| c.signing_secret))
}

#[tracing::instrument(skip_all, fields(page = %w.page_id()))]
pub async fn create(w: &mut Write, c: TenantChanges) -> Result<Tenant> {
    let name = text::name("name", c.name.as_deref().unwrap_or_default())?;
    let contacts_ = check_contacts(c.contacts.as_deref().unwrap_or_default())?;
    let comps = check_components(
        w.conn(),
        w.page_id(),
        c.runs_on.as_deref().unwrap_or_default(),
        "component_ids",
    )
    .await?;
    let id = TenantId::new(new_id());
    tenants::Entity::insert(tenants::ActiveModel {
        id: Set(id.clone()),
        page_id: Set(w.page_id().clone()),
        name: Set(name.clone()),
        created_at: Set(w.now()),
        updated_at: Set(w.now()),
    })
    .exec_without_returning(w.conn())
    .await?;
    let fresh = write_links(w.conn(), &id, Some(&contacts_), Some(&comps)).await?;
    w.record(&[Event::TenantCreated {
        tenant_id: id.clone(),
    }])
    .await?;
    w.audit(
        "tenant.create",
        "tenant",
        id.as_str(),
        json!({"name": name}),
    )
    .await?;
    let mut t = get(w.conn(), &id).await?;
    t.fresh_secrets = fresh;
    Ok(t)
}

pub async fn update(w: &mut Write, id: &TenantId, c: TenantChanges) -> Result<Tenant> {
    get(w.conn(), id).await?;
    let mut update =
        tenants::Entity::update_many().col_expr(tenants::Column::UpdatedAt, Expr::value(w.now()));
    if let Some(n) = &c.name {
        update = update.col_expr(tenants::Column::Name, Expr::value(text::name("name", n)?));
    }
    let contacts_ = match &c.contacts {
        Some(list) => Some(check_contacts(list)?),
        None => None,
    };
    let comps = match &c.runs_on {
        Some(list) => Some(check_components(w.conn(), w.page_id(), list, "component_ids").await?),
        None => None,
    };
    update
        .filter(tenants::Column::Id.eq(id.clone()))
        .exec(w.conn())
        .await?;
    let fresh = write_links(w.conn(), id, contacts_.as_deref(), comps.as_deref()).await?;
    w.record(&[Event::TenantUpdated {
        tenant_id: id.clone(),
    }])
    .await?;
    w.audit(
        "tenant.update",
        "tenant",
        id.as_str(),
        json!({"name": c.name}),
    )
    .await?;
    let mut t = get(w.conn(), id).await?;
    t.fresh_secrets = fresh;
    Ok(t)
}

pub async fn delete(w: &mut Write, id: &TenantId) -> Result<Tenant> {
    let t = get(w.conn(), id).await?;
    tenants::Entity::delete_by_id(id.clone())
        .exec(w.conn())
        .await?;
    w.record(&[Event::TenantDeleted {
        tenant_id: id.clone(),
    }])
    .await?;
    w.audit(
        "tenant.delete",
        "tenant",
        id.as_str(),
        json!({"name": t.name}),
    )
    .await?;
    Ok(t)
}

async fn assemble(db: &impl ConnectionTrait, rows: Vec<tenants::Model>) -> Result<Vec<Tenant>> {
    let ids: Vec<TenantId> = rows.iter().map(|r| r.id.clone()).collect();
    let mut cs: HashMap<TenantId, Vec<Contact>> = HashMap::new();
    let mut rs: HashMap<TenantId, Vec<ComponentId>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for c in contacts::Entity::find()
            .filter(contacts::Column::TenantId.is_in(chunk.iter().cloned()))
            .order_by_asc(contacts::Column::Id)
            .all(db)
            .await?
        {
            cs.entry(c.tenant_id).or_default().push(Contact {
                kind: c.kind,
                address: c.address,
            });
        }
        for r in runs_on::Entity::find()
            .filter(runs_on::Column::TenantId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            rs.entry(r.tenant_id).or_default().push(r.component_id);
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| Tenant {
            contacts: cs.remove(&r.id).unwrap_or_default(),
            runs_on: rs.remove(&r.id).unwrap_or_default(),
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
            fresh_secrets: Vec::new(),
        })
        .collect())
}

pub async fn get(db: &impl ConnectionTrait, id: &TenantId) -> Result<Tenant> {
    let row = tenants::Entity::find_by_id(id.clone())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("tenant", id.as_str()))?;
    Ok(assemble(db, vec![row]).await?.remove(0))
}

/// Tenants by name, `limit` from `offset`; `q` searches names.
pub async fn list(
    db: &impl ConnectionTrait,
    page: &PageId,
    q: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<Vec<Tenant>> {
    let mut find = tenants::Entity::find().filter(tenants::Column::PageId.eq(page.clone()));
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!(
            "%{}%",
            q.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        find = find.filter(
            Expr::expr(Func::lower(Expr::col(tenants::Column::Name)))
                .like(LikeExpr::new(pattern).escape('\\')),
        );
    }
    let rows = find
        .order_by_asc(tenants::Column::Name)
        .order_by_asc(tenants::Column::Id)
        .limit(limit)
        .offset(offset)
        .all(db)
        .await?;
    assemble(db, rows).await
}

/// One batch of tenants after `after` (by id), for the expansion of a notification.
pub async fn batch(
    db: &impl ConnectionTrait,
    page: &PageId,
    after: Option<&TenantId>,
    limit: u64,
) -> Result<Vec<Tenant>> {
    let mut q = tenants::Entity::find().filter(tenants::Column::PageId.eq(page.clone()));
    if let Some(a) = after {
        q = q.filter(tenants::Column::Id.gt(a.clone()));
    }
    let rows = q
        .order_by_asc(tenants::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    assemble(db, rows).await
}

/// Names of `ids`, for the ledger.
pub async fn names(
    db: &impl ConnectionTrait,
    ids: &[TenantId],
) -> Result<HashMap<TenantId, String>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        for (id, name) in tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .column(tenants::Column::Name)
            .filter(tenants::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple::<(TenantId, String)>()
            .all(db)
            .await?
        {
            out.insert(id, name);
        }
    }
    Ok(out)
}

/// Imports tenants; one with the name of an existing tenant is skipped. `first` is the
/// number the first row has in its file (a CSV's line).
pub async fn import(
    w: &mut Write,
    rows: Vec<TenantChanges>,
    first: usize,
) -> Result<super::subscribers::Imported> {
    let mut out = super::subscribers::Imported::default();
    let existing: Vec<String> = list(w.conn(), w.page_id(), None, i64::MAX.unsigned_abs(), 0)
        .await?
        .into_iter()
        .map(|t| t.name.to_lowercase())
        .collect();
    for (n, row) in rows.into_iter().enumerate() {
        let name = row.name.clone().unwrap_or_default();
        if existing.contains(&name.trim().to_lowercase()) {
            out.skipped += 1;
            continue;
        }
        match create(w, row).await {
            Ok(_) => out.created += 1,
            Err(StoreError::Domain(e)) => out.errors.push(format!("row {}: {e}", n + first)),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
