//! Loading incidents with their updates and affected components.

use super::*;

pub(super) async fn find_model(db: &impl ConnectionTrait, id: &str) -> Result<incidents::Model> {
    incidents::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("incident", id))
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<Incident> {
    let model = find_model(db, id).await?;
    let mut all = assemble(db, vec![model]).await?;
    all.pop()
        .ok_or_else(|| StoreError::not_found("incident", id))
}

/// Incidents newest first. `q` matches names; `offset`/`limit` page through.
pub async fn list(
    db: &impl ConnectionTrait,
    page_id: &str,
    filter: Filter,
    q: Option<&str>,
    limit: u64,
    offset: u64,
) -> Result<Vec<Incident>> {
    use IncidentStatus::*;
    let open: Vec<&str> = [Investigating, Identified, Monitoring]
        .iter()
        .map(|s| s.as_str())
        .collect();
    let mut query = incidents::Entity::find().filter(incidents::Column::PageId.eq(page_id));
    query = match filter {
        Filter::All => query,
        Filter::Incidents => query.filter(incidents::Column::ScheduledFor.is_null()),
        Filter::Unresolved => query
            .filter(incidents::Column::ScheduledFor.is_null())
            .filter(incidents::Column::Status.is_in(open)),
        Filter::Maintenances => query.filter(incidents::Column::ScheduledFor.is_not_null()),
        Filter::Scheduled => query
            .filter(incidents::Column::ScheduledFor.is_not_null())
            .filter(incidents::Column::Status.eq(Scheduled.as_str())),
        Filter::ActiveMaintenance => query
            .filter(incidents::Column::ScheduledFor.is_not_null())
            .filter(
                Condition::any()
                    .add(incidents::Column::Status.eq(InProgress.as_str()))
                    .add(incidents::Column::Status.eq(Verifying.as_str())),
            ),
    };
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        query = query.filter(incidents::Column::Name.contains(q));
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

/// Loads updates and affected components for many incidents in two queries.
async fn assemble(
    db: &impl ConnectionTrait,
    models: Vec<incidents::Model>,
) -> Result<Vec<Incident>> {
    let ids: Vec<String> = models.iter().map(|m| m.id.clone()).collect();
    let mut ups: HashMap<String, Vec<IncidentUpdate>> = HashMap::new();
    let mut comps: HashMap<String, Vec<(String, ComponentStatus)>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for u in updates::Entity::find()
            .filter(updates::Column::IncidentId.is_in(chunk.to_vec()))
            .order_by_desc(updates::Column::DisplayAt)
            .order_by_desc(updates::Column::CreatedAt)
            .all(db)
            .await?
        {
            let u = update_from_model(u)?;
            ups.entry(u.incident_id.clone()).or_default().push(u);
        }
        for l in links::Entity::find()
            .filter(links::Column::IncidentId.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            comps
                .entry(l.incident_id)
                .or_default()
                .push((l.component_id, l.status.parse()?));
        }
    }
    models
        .into_iter()
        .map(|m| {
            Ok(Incident {
                updates: ups.remove(&m.id).unwrap_or_default(),
                components: comps.remove(&m.id).unwrap_or_default(),
                status: m.status.parse()?,
                impact: m.impact.parse()?,
                impact_override: m.impact_override.as_deref().map(str::parse).transpose()?,
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
                postmortem_body: m.postmortem_body,
                postmortem_body_last_updated_at: m.postmortem_body_last_updated_at,
                postmortem_published_at: m.postmortem_published_at,
                postmortem_ignored: m.postmortem_ignored,
                postmortem_notified_subscribers: m.postmortem_notified_subscribers,
                scheduled_for: m.scheduled_for,
                scheduled_until: m.scheduled_until,
                scheduled_remind_prior: m.scheduled_remind_prior,
                scheduled_auto_in_progress: m.scheduled_auto_in_progress,
                scheduled_auto_completed: m.scheduled_auto_completed,
                backfilled: m.backfilled,
            })
        })
        .collect()
}

pub(super) fn update_from_model(u: updates::Model) -> Result<IncidentUpdate> {
    let affected = match u.affected_components.as_deref() {
        Some(s) => Some(serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))?),
        None => None,
    };
    Ok(IncidentUpdate {
        status: u.status.parse()?,
        id: u.id,
        incident_id: u.incident_id,
        body: u.body,
        created_at: u.created_at,
        updated_at: u.updated_at,
        display_at: u.display_at,
        deliver_notifications: u.deliver_notifications,
        affected_components: affected,
        template: u.template,
        next_update_due_at: u.next_update_due_at,
        custom_tweet: u.custom_tweet,
    })
}
