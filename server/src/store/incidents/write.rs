//! Opening, updating, editing and deleting, each inside the caller's write.

use super::affected::{apply_components, live, plan_components};
use super::read::{find_model, get, update_from_model};
use super::*;

/// Opens an incident (or a maintenance, when `scheduled_for` is set) with its first update.
pub async fn create(w: &mut Write, c: Changes) -> Result<Incident> {
    let name = c
        .name
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if name.is_empty() {
        return Err(StoreError::invalid("name", "an incident needs a name"));
    }
    let kind = if c.scheduled_for.is_some() {
        Kind::Maintenance
    } else {
        Kind::Incident
    };
    let status = c.status.unwrap_or(match kind {
        Kind::Incident => IncidentStatus::Investigating,
        Kind::Maintenance => IncidentStatus::Scheduled,
    });
    let now = w.now();
    let life = Lifecycle::open(kind, status, now)?;
    let started_at = c.started_at.unwrap_or(now);
    let resolved_at = c.resolved_at.or(life.resolved_at);
    check_window(started_at, resolved_at, now)?;
    if let (Some(from), Some(until)) = (c.scheduled_for, c.scheduled_until)
        && until < from
    {
        return Err(StoreError::invalid(
            "scheduled_until",
            "scheduled_until is before scheduled_for",
        ));
    }
    let id = new_id();
    incidents::ActiveModel {
        id: Set(id.clone()),
        page_id: Set(w.page_id().to_owned()),
        name: Set(name.clone()),
        status: Set(status.as_str().to_owned()),
        impact: Set(Impact::None.as_str().to_owned()),
        impact_override: Set(c.impact_override.flatten().map(|i| i.as_str().to_owned())),
        started_at: Set(started_at),
        created_at: Set(now),
        updated_at: Set(now),
        monitoring_at: Set(life.monitoring_at),
        resolved_at: Set(resolved_at),
        next_update_due_at: Set(c.next_update_due_at.filter(|_| status.is_open())),
        postmortem_body: Set(None),
        postmortem_body_last_updated_at: Set(None),
        postmortem_published_at: Set(None),
        postmortem_ignored: Set(false),
        postmortem_notified_subscribers: Set(false),
        scheduled_for: Set(c.scheduled_for),
        scheduled_until: Set(c.scheduled_until),
        scheduled_remind_prior: Set(c.scheduled_remind_prior.unwrap_or(false)),
        scheduled_auto_in_progress: Set(c.scheduled_auto_in_progress.unwrap_or(false)),
        scheduled_auto_completed: Set(c.scheduled_auto_completed.unwrap_or(false)),
        metadata: Set(c.metadata.clone().unwrap_or_else(|| json!({})).to_string()),
        backfilled: Set(c.backfilled.unwrap_or(false)),
    }
    .insert(w.conn())
    .await?;

    // A maintenance announced ahead does not touch components until it starts.
    // A maintenance announced ahead, or an incident entered after it was over
    // (backfilled), records its components without touching their live status.
    let affected = apply_components(w, &id, &c.components, live(status)).await?;
    let body = c
        .body
        .clone()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| default_body(status).to_owned());
    insert_update(w, &id, status, body, &c, affected).await?;
    refresh_impact(w, &id).await?;
    let incident = get(w.conn(), &id).await?;
    w.event(
        "incident.created",
        "incident",
        &id,
        json!({"incident_id": id, "status": status, "update_id": incident.updates.first().map(|u| u.id.clone())}),
    )
    .await?;
    w.audit(
        "incident.create",
        "incident",
        &id,
        json!({"name": name, "status": status}),
    )
    .await?;
    Ok(incident)
}

/// Applies a PATCH: edits fields, and when `status` or `body` is given, posts an update.
pub async fn update(w: &mut Write, id: &str, c: Changes) -> Result<Incident> {
    let before = get(w.conn(), id).await?;
    let now = w.now();
    // Statuspage appends an update for a *change* of status or a new body; clients that
    // send the whole object back repeat the status unchanged.
    let posts_update = c.status.is_some_and(|s| s != before.status)
        || c.body.as_deref().is_some_and(|b| !b.trim().is_empty());
    let mut am: incidents::ActiveModel = find_model(w.conn(), id).await?.into();

    if let Some(name) = &c.name {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::invalid("name", "an incident needs a name"));
        }
        am.name = Set(name.to_owned());
    }
    if let Some(o) = c.impact_override {
        am.impact_override = Set(o.map(|i| i.as_str().to_owned()));
    }
    if let Some(m) = &c.metadata {
        am.metadata = Set(m.to_string());
    }
    if let Some(v) = c.backfilled {
        am.backfilled = Set(v);
    }
    if let Some(v) = c.scheduled_for {
        if before.kind() == Kind::Incident {
            return Err(StoreError::invalid(
                "scheduled_for",
                "an incident cannot become a scheduled maintenance",
            ));
        }
        am.scheduled_for = Set(Some(v));
    }
    if let Some(v) = c.scheduled_until {
        if before.kind() == Kind::Incident {
            return Err(StoreError::invalid(
                "scheduled_until",
                "only a scheduled maintenance has scheduled_until",
            ));
        }
        if v < c.scheduled_for.or(before.scheduled_for).unwrap_or(v) {
            return Err(StoreError::invalid(
                "scheduled_until",
                "scheduled_until is before scheduled_for",
            ));
        }
        am.scheduled_until = Set(Some(v));
    }
    if let Some(v) = c.scheduled_remind_prior {
        am.scheduled_remind_prior = Set(v);
    }
    if let Some(v) = c.scheduled_auto_in_progress {
        am.scheduled_auto_in_progress = Set(v);
    }
    if let Some(v) = c.scheduled_auto_completed {
        am.scheduled_auto_completed = Set(v);
    }

    let mut effect = None;
    let mut status = before.status;
    let mut resolved_at = before.resolved_at;
    if posts_update {
        let to = c.status.unwrap_or(before.status);
        let (next, e) = before.lifecycle().apply(Command::Update(to), now)?;
        status = next.status;
        resolved_at = next.resolved_at;
        am.status = Set(next.status.as_str().to_owned());
        am.monitoring_at = Set(next.monitoring_at);
        am.next_update_due_at = Set(c.next_update_due_at.filter(|_| next.status.is_open()));
        effect = Some(e);
    }
    let started_at = c.started_at.unwrap_or(before.started_at);
    if let Some(r) = c.resolved_at {
        if status.is_open() {
            return Err(StoreError::invalid(
                "resolved_at",
                "an open incident has no resolved_at",
            ));
        }
        resolved_at = Some(r);
    }
    check_window(started_at, resolved_at, now)?;
    am.started_at = Set(started_at);
    am.resolved_at = Set(resolved_at);
    am.updated_at = Set(now);
    am.update(w.conn()).await?;

    if let Some(effect) = effect {
        let wanted = plan_components(w, &before, status, effect, &c.components).await?;
        let apply_now = live(before.status) || live(status);
        let affected = apply_components(w, id, &wanted, apply_now).await?;
        let body = c
            .body
            .clone()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| default_body(status).to_owned());
        let update_id = insert_update(w, id, status, body, &c, affected).await?;
        w.event(
            effect.event_kind(),
            "incident",
            id,
            json!({"incident_id": id, "status": status, "old_status": before.status, "update_id": update_id}),
        )
        .await?;
    } else {
        apply_components(w, id, &c.components, live(before.status)).await?;
        w.event(
            "incident.edited",
            "incident",
            id,
            json!({"incident_id": id}),
        )
        .await?;
    }
    refresh_impact(w, id).await?;
    w.audit(
        "incident.update",
        "incident",
        id,
        json!({"status": c.status, "name": c.name, "started_at": opt_ts(c.started_at), "resolved_at": opt_ts(c.resolved_at)}),
    )
    .await?;
    get(w.conn(), id).await
}

/// Edits an update after the fact: its body, `display_at` or whether it notifies.
pub async fn edit_update(
    w: &mut Write,
    incident_id: &str,
    update_id: &str,
    body: Option<String>,
    display_at: Option<DateTime<Utc>>,
    deliver_notifications: Option<bool>,
) -> Result<IncidentUpdate> {
    let model = updates::Entity::find_by_id(update_id.to_owned())
        .filter(updates::Column::IncidentId.eq(incident_id))
        .one(w.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("incident update", update_id))?;
    let mut am: updates::ActiveModel = model.into();
    if let Some(b) = &body {
        if b.trim().is_empty() {
            return Err(StoreError::invalid(
                "body",
                "an update's body must not be empty",
            ));
        }
        am.body = Set(b.clone());
    }
    if let Some(d) = display_at {
        am.display_at = Set(d);
    }
    if let Some(n) = deliver_notifications {
        am.deliver_notifications = Set(n);
    }
    am.updated_at = Set(w.now());
    let saved = am.update(w.conn()).await?;
    touch(w, incident_id).await?;
    w.event(
        "incident_update.edited",
        "incident",
        incident_id,
        json!({"incident_id": incident_id, "update_id": update_id}),
    )
    .await?;
    w.audit(
        "incident_update.edit",
        "incident_update",
        update_id,
        json!({"body_changed": body.is_some(), "display_at": opt_ts(display_at)}),
    )
    .await?;
    update_from_model(saved)
}

pub enum PostmortemAction {
    Draft(String),
    Publish { notify_subscribers: bool },
    Revert,
    Delete,
}

pub async fn postmortem(w: &mut Write, id: &str, action: PostmortemAction) -> Result<Incident> {
    let before = get(w.conn(), id).await?;
    let now = w.now();
    let mut am: incidents::ActiveModel = find_model(w.conn(), id).await?.into();
    let (kind, detail) = match action {
        PostmortemAction::Draft(body) => {
            if body.trim().is_empty() {
                return Err(StoreError::invalid(
                    "body_draft",
                    "the postmortem must not be empty",
                ));
            }
            before.lifecycle().apply(Command::DraftPostmortem, now)?;
            am.postmortem_body = Set(Some(body));
            am.postmortem_body_last_updated_at = Set(Some(now));
            ("postmortem.drafted", json!({}))
        }
        PostmortemAction::Publish { notify_subscribers } => {
            let (next, _) = before.lifecycle().apply(Command::PublishPostmortem, now)?;
            am.status = Set(next.status.as_str().to_owned());
            am.postmortem_published_at = Set(Some(now));
            am.postmortem_notified_subscribers = Set(notify_subscribers);
            (
                "postmortem.published",
                json!({"notify_subscribers": notify_subscribers}),
            )
        }
        PostmortemAction::Revert => {
            let (next, _) = before.lifecycle().apply(Command::RevertPostmortem, now)?;
            am.status = Set(next.status.as_str().to_owned());
            am.postmortem_published_at = Set(None);
            ("postmortem.reverted", json!({}))
        }
        PostmortemAction::Delete => {
            if before.postmortem_published_at.is_some() {
                before.lifecycle().apply(Command::RevertPostmortem, now)?;
                am.status = Set(IncidentStatus::Resolved.as_str().to_owned());
            }
            am.postmortem_body = Set(None);
            am.postmortem_body_last_updated_at = Set(None);
            am.postmortem_published_at = Set(None);
            ("postmortem.deleted", json!({}))
        }
    };
    am.updated_at = Set(now);
    am.update(w.conn()).await?;
    w.event(kind, "incident", id, json!({"incident_id": id}))
        .await?;
    w.audit(kind, "incident", id, detail).await?;
    get(w.conn(), id).await
}

pub async fn delete(w: &mut Write, id: &str) -> Result<Incident> {
    let incident = get(w.conn(), id).await?;
    incidents::Entity::delete_by_id(id.to_owned())
        .exec(w.conn())
        .await?;
    w.event(
        "incident.deleted",
        "incident",
        id,
        json!({"incident_id": id, "name": incident.name}),
    )
    .await?;
    w.audit(
        "incident.delete",
        "incident",
        id,
        json!({"name": incident.name}),
    )
    .await?;
    Ok(incident)
}

async fn touch(w: &mut Write, id: &str) -> Result<()> {
    let mut am: incidents::ActiveModel = find_model(w.conn(), id).await?.into();
    am.updated_at = Set(w.now());
    am.update(w.conn()).await?;
    Ok(())
}

async fn insert_update(
    w: &mut Write,
    incident_id: &str,
    status: IncidentStatus,
    body: String,
    c: &Changes,
    affected: Option<Vec<AffectedComponent>>,
) -> Result<String> {
    let id = new_id();
    let affected_json = match &affected {
        Some(a) => Some(serde_json::to_string(a).map_err(|e| StoreError::Corrupt(e.to_string()))?),
        None => None,
    };
    updates::ActiveModel {
        id: Set(id.clone()),
        incident_id: Set(incident_id.to_owned()),
        status: Set(status.as_str().to_owned()),
        body: Set(body),
        created_at: Set(w.now()),
        updated_at: Set(w.now()),
        display_at: Set(w.now()),
        deliver_notifications: Set(c.deliver_notifications.unwrap_or(true)),
        affected_components: Set(affected_json),
        template: Set(c.template.clone()),
        next_update_due_at: Set(c.next_update_due_at.filter(|_| status.is_open())),
        custom_tweet: Set(c.custom_tweet.clone()),
    }
    .insert(w.conn())
    .await?;
    Ok(id)
}

async fn refresh_impact(w: &mut Write, id: &str) -> Result<()> {
    let model = find_model(w.conn(), id).await?;
    let impact = if model.scheduled_for.is_some() {
        Impact::Maintenance
    } else {
        let statuses = links::Entity::find()
            .filter(links::Column::IncidentId.eq(id))
            .all(w.conn())
            .await?
            .into_iter()
            .map(|l| l.status.parse::<ComponentStatus>())
            .collect::<Result<Vec<_>, _>>()?;
        let o = model
            .impact_override
            .as_deref()
            .map(str::parse::<Impact>)
            .transpose()?;
        derive_impact(statuses, o)
    };
    if model.impact != impact.as_str() {
        let mut am: incidents::ActiveModel = model.into();
        am.impact = Set(impact.as_str().to_owned());
        am.update(w.conn()).await?;
    }
    Ok(())
}
