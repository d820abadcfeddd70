//! Incidents and scheduled maintenances with their updates and affected components.
//! Lifecycle decisions come from `domain`; this module applies them in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Result, StoreError, Write,
    components::{self, Component},
    entity::{incident_components as links, incident_updates as updates, incidents},
    new_id,
};
use crate::domain::{
    Command, ComponentStatus, Effect, Impact, IncidentStatus, Kind, Lifecycle, check_window,
    derive_impact,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedComponent {
    pub code: String,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IncidentUpdate {
    pub id: String,
    pub incident_id: String,
    pub status: IncidentStatus,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub display_at: DateTime<Utc>,
    pub deliver_notifications: bool,
    pub affected_components: Option<Vec<AffectedComponent>>,
    pub template: Option<String>,
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub custom_tweet: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: String,
    pub page_id: String,
    pub name: String,
    pub status: IncidentStatus,
    pub impact: Impact,
    pub impact_override: Option<Impact>,
    pub started_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub monitoring_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub postmortem_body: Option<String>,
    pub postmortem_body_last_updated_at: Option<DateTime<Utc>>,
    pub postmortem_published_at: Option<DateTime<Utc>>,
    pub postmortem_ignored: bool,
    pub postmortem_notified_subscribers: bool,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    pub scheduled_remind_prior: bool,
    pub scheduled_auto_in_progress: bool,
    pub scheduled_auto_completed: bool,
    pub metadata: serde_json::Value,
    pub backfilled: bool,
    /// Newest first.
    pub updates: Vec<IncidentUpdate>,
    /// Affected components with the status each had during the incident.
    pub components: Vec<(String, ComponentStatus)>,
}

impl Incident {
    pub fn kind(&self) -> Kind {
        if self.scheduled_for.is_some() {
            Kind::Maintenance
        } else {
            Kind::Incident
        }
    }

    fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            kind: self.kind(),
            status: self.status,
            has_postmortem_draft: self
                .postmortem_body
                .as_deref()
                .is_some_and(|b| !b.trim().is_empty()),
            postmortem_published: self.postmortem_published_at.is_some(),
            monitoring_at: self.monitoring_at,
            resolved_at: self.resolved_at,
        }
    }
}

/// Optional settings shared by opening and updating.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub status: Option<IncidentStatus>,
    pub body: Option<String>,
    pub impact_override: Option<Option<Impact>>,
    /// Components and the status each takes, in the order given.
    pub components: Vec<(String, Option<ComponentStatus>)>,
    pub deliver_notifications: Option<bool>,
    pub started_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub metadata: Option<serde_json::Value>,
    pub backfilled: Option<bool>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    pub scheduled_remind_prior: Option<bool>,
    pub scheduled_auto_in_progress: Option<bool>,
    pub scheduled_auto_completed: Option<bool>,
    /// When the next update is promised (from "expect an update within N minutes").
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub template: Option<String>,
    pub custom_tweet: Option<String>,
}

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
}

fn default_body(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Investigating => "We are currently investigating this issue.",
        IncidentStatus::Identified => {
            "The issue has been identified and a fix is being implemented."
        }
        IncidentStatus::Monitoring => {
            "A fix has been implemented and we are monitoring the results."
        }
        IncidentStatus::Resolved => "This incident has been resolved.",
        IncidentStatus::Postmortem => "A postmortem has been published.",
        IncidentStatus::Scheduled => "This maintenance has been scheduled.",
        IncidentStatus::InProgress => "Scheduled maintenance is currently in progress.",
        IncidentStatus::Verifying => {
            "Verification is currently underway for the maintenance items."
        }
        IncidentStatus::Completed => "The scheduled maintenance has been completed.",
    }
}

fn opt_ts(v: Option<DateTime<Utc>>) -> serde_json::Value {
    v.map(|t| json!(t.to_rfc3339()))
        .unwrap_or(serde_json::Value::Null)
}

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

/// Whether an incident in `status` holds its components in the status it gave them:
/// open, and not a maintenance still waiting to start.
fn live(status: IncidentStatus) -> bool {
    status.is_open() && status != IncidentStatus::Scheduled
}

/// The component changes an update makes: those it names, plus what its move implies.
/// A maintenance that starts puts its components into the announced status; a reopened
/// incident puts them back to the status they had in it; closing returns each one to
/// the worst status another live incident holds it in, or operational. Components named
/// without a status (`component_ids`) follow those rules too.
async fn plan_components(
    w: &mut Write,
    before: &Incident,
    to: IncidentStatus,
    effect: Effect,
    named: &[(String, Option<ComponentStatus>)],
) -> Result<Vec<(String, Option<ComponentStatus>)>> {
    let mut wanted: Vec<(String, Option<ComponentStatus>)> =
        named.iter().filter(|(_, s)| s.is_some()).cloned().collect();
    let given = |wanted: &[(String, Option<ComponentStatus>)], cid: &str| {
        wanted.iter().any(|(w, _)| w == cid)
    };
    let starting = before.status == IncidentStatus::Scheduled && live(to);
    let reopening = matches!(effect, Effect::Reopened { .. });
    let closing = matches!(effect, Effect::Closed { .. }) && live(before.status);
    let mut linked: Vec<(String, ComponentStatus)> = before.components.clone();
    for (cid, _) in named.iter().filter(|(_, s)| s.is_none()) {
        if !linked.iter().any(|(l, _)| l == cid) {
            let current = components::get(w.conn(), cid, false).await.map_err(|_| {
                StoreError::invalid(
                    format!("components.{cid}"),
                    format!("component '{cid}' does not exist"),
                )
            })?;
            linked.push((cid.clone(), current.status));
        }
    }
    for (cid, held) in linked {
        if given(&wanted, &cid) {
            continue;
        }
        if starting || reopening {
            wanted.push((cid, Some(held)));
        } else if closing {
            let elsewhere = held_elsewhere(w, &before.id, &cid).await?;
            wanted.push((cid, Some(elsewhere.unwrap_or(ComponentStatus::Operational))));
        } else if named.iter().any(|(n, _)| *n == cid) {
            wanted.push((cid, None));
        }
    }
    Ok(wanted)
}

/// The worst status other live incidents hold a component in.
async fn held_elsewhere(
    w: &Write,
    incident_id: &str,
    component_id: &str,
) -> Result<Option<ComponentStatus>> {
    let others = links::Entity::find()
        .filter(links::Column::ComponentId.eq(component_id))
        .filter(links::Column::IncidentId.ne(incident_id))
        .all(w.conn())
        .await?;
    let mut worst: Option<ComponentStatus> = None;
    for l in others {
        let Some(other) = incidents::Entity::find_by_id(l.incident_id.clone())
            .one(w.conn())
            .await?
        else {
            continue;
        };
        if live(other.status.parse()?) {
            let s: ComponentStatus = l.status.parse()?;
            worst = Some(worst.map_or(s, |w| w.max(s)));
        }
    }
    Ok(worst)
}

/// Sets each listed component's status (when `apply_now`) and records it as affected.
/// Returns the changes for the update's `affected_components`.
async fn apply_components(
    w: &mut Write,
    incident_id: &str,
    wanted: &[(String, Option<ComponentStatus>)],
    apply_now: bool,
) -> Result<Option<Vec<AffectedComponent>>> {
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut affected = Vec::new();
    for (cid, status) in wanted {
        let component: Component = components::get(w.conn(), cid, false).await.map_err(|_| {
            StoreError::invalid(
                format!("components.{cid}"),
                format!("component '{cid}' does not exist"),
            )
        })?;
        let new_status = status.unwrap_or(component.status);
        let old = if apply_now {
            components::set_status(w, &component, new_status, Some(incident_id)).await?
        } else {
            component.status
        };
        link(w, incident_id, cid, new_status).await?;
        affected.push(AffectedComponent {
            code: component.id.clone(),
            name: component.name.clone(),
            old_status: old,
            new_status,
        });
    }
    Ok(Some(affected))
}

/// Records a component as affected, keeping the worst status it had in the incident.
async fn link(
    w: &mut Write,
    incident_id: &str,
    component_id: &str,
    status: ComponentStatus,
) -> Result<()> {
    let existing = links::Entity::find_by_id((incident_id.to_owned(), component_id.to_owned()))
        .one(w.conn())
        .await?;
    match existing {
        None => {
            links::ActiveModel {
                incident_id: Set(incident_id.to_owned()),
                component_id: Set(component_id.to_owned()),
                status: Set(status.as_str().to_owned()),
            }
            .insert(w.conn())
            .await?;
        }
        Some(m) => {
            let old: ComponentStatus = m.status.parse()?;
            if status > old {
                let mut am: links::ActiveModel = m.into();
                am.status = Set(status.as_str().to_owned());
                am.update(w.conn()).await?;
            }
        }
    }
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

async fn find_model(db: &impl ConnectionTrait, id: &str) -> Result<incidents::Model> {
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

fn update_from_model(u: updates::Model) -> Result<IncidentUpdate> {
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
