use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Result, entity::audit_log};

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub token_id: Option<crate::domain::TokenId>,
    pub actor: String,
    pub client_addr: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub detail: serde_json::Value,
}

/// Which records to read: all, or those about one subject or by one actor (each an
/// index range, newest first).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub subject_id: Option<String>,
    pub actor: Option<String>,
}

/// Newest first; `before` pages back through older records.
pub async fn list(
    db: &impl ConnectionTrait,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<AuditRecord>> {
    list_where(db, &Filter::default(), before, limit).await
}

/// Newest first among those `f` matches; `before` pages back through older records.
pub async fn list_where(
    db: &impl ConnectionTrait,
    f: &Filter,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<AuditRecord>> {
    let mut q = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::Id)
        .limit(limit);
    if let Some(before) = before {
        q = q.filter(audit_log::Column::Id.lt(before));
    }
    if let Some(s) = &f.subject_id {
        q = q.filter(audit_log::Column::SubjectId.eq(s.clone()));
    }
    if let Some(a) = &f.actor {
        q = q.filter(audit_log::Column::Actor.eq(a.clone()));
    }
    Ok(q.all(db)
        .await?
        .into_iter()
        .map(|m| AuditRecord {
            id: m.id,
            at: m.at,
            token_id: m.token_id,
            actor: m.actor,
            client_addr: m.client_addr,
            action: m.action,
            subject_type: m.subject_type,
            subject_id: m.subject_id,
            detail: serde_json::from_str(&m.detail).unwrap_or(serde_json::Value::Null),
        })
        .collect())
}
