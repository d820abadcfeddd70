//! Loading incidents with their updates and affected components: one conversion from
//! rows to the domain's [`Incident`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LikeExpr},
};
use serde_json::json;

use super::{AffectedComponent, Incident, IncidentUpdate};
use crate::domain::{ComponentId, ComponentStatus, IncidentId, IncidentStatus, PageId};
use crate::store::{
    Result, StoreError,
    entity::{incident_components as links, incident_updates as updates, incidents},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    /// Plain incidents only (no maintenances).
    Incidents,
    Unresolved,
    Maintenances,
    /// Maintenances still `scheduled`.
    Scheduled,
    /// Maintenances `in_progress` or `verifying`.
    ActiveMaintenance,
    /// What is over: incidents resolved (or with a postmortem), maintenance completed or
    /// cancelled.
    Past,
    /// Maintenances over: completed or cancelled.
    PastMaintenance,
}

impl Filter {
    /// Whether `i` is in the list: the same rule as the query in [`list`].
    pub fn matches(self, i: &Incident) -> bool {
        use IncidentStatus::*;
        let maintenance = i.scheduled_for.is_some();
        match self {
            Filter::All => true,
            Filter::Incidents => !maintenance,
            Filter::Unresolved => {
                !maintenance && matches!(i.status, Investigating | Identified | Monitoring)
            }
            Filter::Maintenances => maintenance,
            Filter::Scheduled => maintenance && i.status == Scheduled,
            Filter::ActiveMaintenance => maintenance && matches!(i.status, InProgress | Verifying),
            Filter::Past => matches!(i.status, Resolved | Postmortem | Completed | Cancelled),
            Filter::PastMaintenance => maintenance && matches!(i.status, Completed | Cancelled),
        }
    }
}

/// The incidents with these ids that exist.
pub async fn get_many(db: &impl ConnectionTrait, ids: &[IncidentId]) -> Result<Vec<Incident>> {
    let mut models = Vec::new();
    for chunk in ids.chunks(500) {
        models.extend(
            incidents::Entity::find()
                .filter(incidents::Column::Id.is_in(chunk.iter().cloned()))
                .all(db)
                .await?,
        );
    }
    assemble(db, models).await
}

pub async fn get(db: &impl ConnectionTrait, id: &IncidentId) -> Result<Incident> {
    let model = incidents::Entity::find_by_id(id.clone())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("incident", id.as_str()))?;
    let mut all = assemble(db, vec![model]).await?;
    all.pop()
        .ok_or_else(|| StoreError::not_found("incident", id.as_str()))
}

/// Incidents newest first. `q` matches names; `offset`/`limit` page through.
pub async fn list(
    db: &impl ConnectionTrait,
    page_id: &PageId,
    filter: Filter,
    q: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<Vec<Incident>> {
    use IncidentStatus::*;
    let mut query = incidents::Entity::find().filter(incidents::Column::PageId.eq(page_id.clone()));
    query = match filter {
        Filter::All => query,
        Filter::Incidents => query.filter(incidents::Column::ScheduledFor.is_null()),
        Filter::Unresolved => query
            .filter(incidents::Column::ScheduledFor.is_null())
            .filter(incidents::Column::Status.is_in([Investigating, Identified, Monitoring])),
        Filter::Maintenances => query.filter(incidents::Column::ScheduledFor.is_not_null()),
        Filter::Scheduled => query
            .filter(incidents::Column::ScheduledFor.is_not_null())
            .filter(incidents::Column::Status.eq(Scheduled)),
        Filter::ActiveMaintenance => query
            .filter(incidents::Column::ScheduledFor.is_not_null())
            .filter(
                Condition::any()
                    .add(incidents::Column::Status.eq(InProgress))
                    .add(incidents::Column::Status.eq(Verifying)),
            ),
        Filter::Past => query
            .filter(incidents::Column::Status.is_in([Resolved, Postmortem, Completed, Cancelled])),
        Filter::PastMaintenance => query
            .filter(incidents::Column::ScheduledFor.is_not_null())
            .filter(incidents::Column::Status.is_in([Completed, Cancelled])),
    };
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        // The text itself, not a pattern: `%` and `_` match only themselves.
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(
            Expr::col(incidents::Column::Name)
                .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
        );
    }
    let models = query
        .order_by_desc(incidents::Column::CreatedAt)
        .order_by_desc(incidents::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    assemble(db, models).await
}

/// Scheduled maintenances not yet started, soonest first, at most `limit`.
pub async fn upcoming_maintenance(
    db: &impl ConnectionTrait,
    page_id: &PageId,
    limit: u64,
) -> Result<Vec<Incident>> {
    let models = incidents::Entity::find()
        .filter(incidents::Column::PageId.eq(page_id.clone()))
        .filter(incidents::Column::ScheduledFor.is_not_null())
        .filter(incidents::Column::Status.eq(IncidentStatus::Scheduled))
        .order_by_asc(incidents::Column::ScheduledFor)
        .order_by_asc(incidents::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    assemble(db, models).await
}

/// Incidents (not maintenances) whose impact began in `[from, to)`, oldest first, at
/// most `limit`.
pub async fn started_between(
    db: &impl ConnectionTrait,
    page_id: &PageId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Incident>> {
    let models = incidents::Entity::find()
        .filter(incidents::Column::PageId.eq(page_id.clone()))
        .filter(incidents::Column::ScheduledFor.is_null())
        .filter(incidents::Column::StartedAt.gte(from))
        .filter(incidents::Column::StartedAt.lt(to))
        .order_by_asc(incidents::Column::StartedAt)
        .order_by_asc(incidents::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    assemble(db, models).await
}

/// Open incidents whose promised next update is due before `now`.
pub async fn overdue_count(
    db: &impl ConnectionTrait,
    page_id: &PageId,
    now: DateTime<Utc>,
) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(incidents::Entity::find()
        .filter(incidents::Column::PageId.eq(page_id.clone()))
        .filter(incidents::Column::Status.is_in(crate::store::reminders::PROMISING))
        .filter(incidents::Column::NextUpdateDueAt.lt(now))
        .count(db)
        .await?)
}

/// How many incidents and maintenances the page has.
pub async fn count(db: &impl ConnectionTrait, page_id: &PageId) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(incidents::Entity::find()
        .filter(incidents::Column::PageId.eq(page_id.clone()))
        .count(db)
        .await?)
}

/// Loads updates and affected components for many incidents in two queries per 500.
async fn assemble(
    db: &impl ConnectionTrait,
    models: Vec<incidents::Model>,
) -> Result<Vec<Incident>> {
    let ids: Vec<IncidentId> = models.iter().map(|m| m.id.clone()).collect();
    let mut ups: HashMap<IncidentId, Vec<IncidentUpdate>> = HashMap::new();
    let mut comps: HashMap<IncidentId, Vec<(ComponentId, ComponentStatus)>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for u in updates::Entity::find()
            .filter(updates::Column::IncidentId.is_in(chunk.iter().cloned()))
            .order_by_desc(updates::Column::DisplayAt)
            .order_by_desc(updates::Column::Ordinal)
            .all(db)
            .await?
        {
            let u = update_from_row(u);
            ups.entry(u.incident_id.clone()).or_default().push(u);
        }
        for l in links::Entity::find()
            .filter(links::Column::IncidentId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            comps
                .entry(l.incident_id)
                .or_default()
                .push((l.component_id, l.status));
        }
    }
    Ok(models
        .into_iter()
        .map(|m| {
            let updates = ups.remove(&m.id).unwrap_or_default();
            let components = comps.remove(&m.id).unwrap_or_default();
            from_row(m, updates, components)
        })
        .collect())
}

/// The one conversion from an incident row to the domain type.
pub(super) fn from_row(
    m: incidents::Model,
    updates: Vec<IncidentUpdate>,
    components: Vec<(ComponentId, ComponentStatus)>,
) -> Incident {
    // A plan that cannot be read is the default: one bad row must not stop the page.
    let plan = m
        .maintenance_plan
        .as_deref()
        .and_then(|p| {
            serde_json::from_str(p)
                .map_err(
                    |e| tracing::warn!(incident = %m.id, error = %e, "unreadable maintenance_plan"),
                )
                .ok()
        })
        .unwrap_or_default();
    Incident {
        updates,
        components,
        status: m.status,
        impact: m.impact,
        impact_override: m.impact_override,
        metadata: serde_json::from_str(&m.metadata).unwrap_or_else(|_| json!({})),
        id: m.id,
        page_id: m.page_id,
        name: m.name,
        started_at: m.started_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
        monitoring_at: m.monitoring_at,
        resolved_at: m.resolved_at,
        next_update_due_at: m.next_update_due_at,
        postmortem_body: m.postmortem_body.clone(),
        postmortem_body_last_updated_at: m.postmortem_body_last_updated_at,
        postmortem_published_at: m.postmortem_published_at,
        // Written before drafts and published texts were kept apart: what was published
        // was the draft.
        postmortem_published_body: m
            .postmortem_published_body
            .or_else(|| m.postmortem_published_at.and(m.postmortem_body.clone())),
        postmortem_ignored: m.postmortem_ignored,
        postmortem_notified_subscribers: m.postmortem_notified_subscribers,
        scheduled_for: m.scheduled_for,
        scheduled_until: m.scheduled_until,
        scheduled_remind_prior: m.scheduled_remind_prior,
        scheduled_auto_in_progress: m.scheduled_auto_in_progress,
        scheduled_auto_completed: m.scheduled_auto_completed,
        backfilled: m.backfilled,
        plan,
    }
}

/// A row that cannot be read whole is read as far as it can be: one bad row must not
/// keep the page from updating.
fn update_from_row(u: updates::Model) -> IncidentUpdate {
    let affected = u.affected_components.as_deref().and_then(|s| {
        serde_json::from_str::<Vec<AffectedComponent>>(s)
            .map_err(
                |e| tracing::warn!(update = %u.id, error = %e, "unreadable affected_components"),
            )
            .ok()
    });
    IncidentUpdate {
        id: u.id,
        incident_id: u.incident_id,
        status: u.status,
        body: u.body,
        created_at: u.created_at,
        updated_at: u.updated_at,
        display_at: u.display_at,
        deliver_notifications: u.deliver_notifications,
        affected_components: affected,
        template: u.template,
        next_update_due_at: u.next_update_due_at,
        custom_tweet: u.custom_tweet,
        ordinal: u.ordinal,
    }
}
