//! The incident aggregate: an incident (or a scheduled maintenance) with its updates and
//! the components it affects. [`Incident::open`] and [`Incident::apply`] take a command
//! and the time and return the new state with everything that follows from it (the
//! components' live statuses, the events, the audit record), or an error naming the
//! field. The store only loads, applies and commits.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::events::{Event, StatusMove};
use super::holds::{self, Named, Step};
use super::lifecycle::{Command as Move, Effect as MoveEffect, Kind, Lifecycle};
use super::maintenance::{Plan, PlanChanges};
use super::{
    ComponentId, ComponentStatus, DomainError, Impact, IncidentId, IncidentStatus, PageId,
    UpdateId, derive_impact, text,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedComponent {
    pub code: ComponentId,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub id: UpdateId,
    pub incident_id: IncidentId,
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
    /// Its place in the incident's timeline, from 0: the order updates were posted in,
    /// whatever their times.
    pub ordinal: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: IncidentId,
    pub page_id: PageId,
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
    /// What readers see: the draft as it was when last published.
    pub postmortem_published_body: Option<String>,
    pub postmortem_ignored: bool,
    pub postmortem_notified_subscribers: bool,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    pub scheduled_remind_prior: bool,
    pub scheduled_auto_in_progress: bool,
    pub scheduled_auto_completed: bool,
    pub metadata: Value,
    pub backfilled: bool,
    /// A maintenance's plan: automatic transitions, notices, reminders, calendar
    /// sequence, overrun (the default for an incident).
    pub plan: Plan,
    /// Newest first.
    pub updates: Vec<Update>,
    /// Affected components with the worst status each had during the incident.
    pub components: Vec<(ComponentId, ComponentStatus)>,
}

/// "Expect the next update within N minutes" or "by T".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Promise {
    Within(u32),
    By(DateTime<Utc>),
}

/// The longest promise a responder may make.
pub const MAX_PROMISE_MINUTES: u32 = 60 * 24 * 7;

/// Fields given to open an incident or to change one; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub status: Option<IncidentStatus>,
    pub body: Option<String>,
    /// `Some(None)` clears the override.
    pub impact_override: Option<Option<Impact>>,
    /// Components and the status each takes (`None`: affected, status unchanged), in
    /// the order given, each once.
    pub components: Vec<(ComponentId, Option<ComponentStatus>)>,
    pub deliver_notifications: Option<bool>,
    pub started_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub metadata: Option<Value>,
    pub backfilled: Option<bool>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub scheduled_until: Option<DateTime<Utc>>,
    pub scheduled_remind_prior: Option<bool>,
    pub scheduled_auto_in_progress: Option<bool>,
    pub scheduled_auto_completed: Option<bool>,
    /// A maintenance's automatic transitions and reminders.
    pub plan: Box<PlanChanges>,
    pub promise: Option<Promise>,
    pub template: Option<String>,
    pub custom_tweet: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostmortemAction {
    Draft(String),
    Publish { notify_subscribers: bool },
    Revert,
    Delete,
}

#[derive(Debug, Clone)]
pub enum Command {
    /// A PATCH: edits fields, and posts an update when it brings a new status or a body.
    Change(Changes),
    EditUpdate {
        update_id: UpdateId,
        body: Option<String>,
        display_at: Option<DateTime<Utc>>,
        deliver_notifications: Option<bool>,
    },
    Postmortem(PostmortemAction),
    Delete,
}

impl Command {
    /// The components the command names: the store loads their facts before applying.
    pub fn named_components(&self) -> impl Iterator<Item = &ComponentId> {
        let named = match self {
            Command::Change(c) => c.components.as_slice(),
            _ => &[],
        };
        named.iter().map(|(id, _)| id)
    }
}

/// What the domain needs to know of a component the command names or the incident holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentFacts {
    pub name: String,
    pub status: ComponentStatus,
    pub is_group: bool,
    /// Other incidents holding it: (their status, the status they hold it at).
    pub holds: Vec<(IncidentStatus, ComponentStatus)>,
}

/// The facts of every component involved, by id; a missing id does not exist.
pub type Board = HashMap<ComponentId, ComponentFacts>;

/// A live status change the store applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentChange {
    pub component_id: ComponentId,
    pub from: ComponentStatus,
    pub to: ComponentStatus,
}

/// Who did what, for the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    pub action: &'static str,
    pub subject_type: &'static str,
    pub subject_id: String,
    pub detail: Value,
}

/// Everything a command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The incident after the command (as it was, for a delete).
    pub incident: Incident,
    pub created: bool,
    pub deleted: bool,
    /// `incident.updates[0]` is new.
    pub posted_update: bool,
    pub edited_update: Option<UpdateId>,
    pub component_changes: Vec<ComponentChange>,
    pub events: Vec<Event>,
    pub audit: Audit,
    /// Nothing changed (publishing what is already published): nothing to write.
    pub unchanged: bool,
}

/// The update text used when a responder gives none.
pub fn default_body(status: IncidentStatus) -> &'static str {
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
        IncidentStatus::Cancelled => "This maintenance has been cancelled.",
    }
}

/// The body of an update posted only because the affected components changed.
pub const COMPONENTS_UPDATED: &str = "The status of the affected components has been updated.";

fn ts(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| json!(t.to_rfc3339()))
}

fn body_or_default(body: Option<&str>, status: IncidentStatus) -> String {
    body.filter(|b| !b.trim().is_empty())
        .map_or_else(|| default_body(status).to_owned(), str::to_owned)
}

/// The largest `metadata` object, serialised.
pub const MAX_METADATA: usize = 16 * 1024;

/// Checks every value a change brings that has bounds: texts, times, metadata.
fn check_bounds(c: &Changes) -> Result<(), DomainError> {
    if let Some(b) = &c.body {
        text::markdown("body", b, text::MAX_BODY)?;
    }
    for (field, t) in [
        ("started_at", c.started_at),
        ("resolved_at", c.resolved_at),
        ("scheduled_for", c.scheduled_for),
        ("scheduled_until", c.scheduled_until),
    ] {
        if let Some(t) = t {
            text::time(field, t)?;
        }
    }
    if let Some(Promise::By(t)) = c.promise {
        text::time("next_update_due_at", t)?;
    }
    if let Some(m) = &c.metadata {
        if !m.is_object() {
            return Err(DomainError::invalid(
                "metadata",
                "metadata must be an object",
            ));
        }
        if m.to_string().len() > MAX_METADATA {
            return Err(DomainError::invalid(
                "metadata",
                format!("metadata must be at most {MAX_METADATA} bytes as JSON"),
            ));
        }
    }
    if let Some(t) = &c.custom_tweet
        && t.chars().count() > 280
    {
        return Err(DomainError::invalid(
            "custom_tweet",
            "custom_tweet must be at most 280 characters",
        ));
    }
    Ok(())
}

/// The promised time, from the update's time.
fn promised(
    promise: Option<Promise>,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DomainError> {
    match promise {
        None => Ok(None),
        Some(Promise::Within(m)) if m == 0 || m > MAX_PROMISE_MINUTES => Err(DomainError::invalid(
            "next_update_in_minutes",
            format!("must be between 1 and {MAX_PROMISE_MINUTES} minutes"),
        )),
        Some(Promise::Within(m)) => Ok(Some(at + Duration::minutes(i64::from(m)))),
        Some(Promise::By(t)) if t <= at => Err(DomainError::invalid(
            "next_update_due_at",
            "the next update must be promised for after this one",
        )),
        Some(Promise::By(t)) => Ok(Some(t)),
    }
}

fn check_schedule(
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<(), DomainError> {
    match (from, until) {
        (Some(from), Some(until)) if until < from => Err(DomainError::invalid(
            "scheduled_until",
            "scheduled_until is before scheduled_for",
        )),
        _ => Ok(()),
    }
}

/// Ids for what a command creates, chosen by the caller.
#[derive(Debug, Clone)]
pub struct Fresh {
    pub incident_id: IncidentId,
    pub update_id: UpdateId,
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

    fn held(&self, id: &ComponentId) -> Option<ComponentStatus> {
        self.components
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, s)| *s)
    }

    fn refresh_impact(&mut self) {
        self.impact = if self.scheduled_for.is_some() {
            Impact::Maintenance
        } else {
            derive_impact(
                self.components.iter().map(|(_, s)| *s),
                self.impact_override,
            )
        };
    }

    /// Opens an incident, or a maintenance when `scheduled_for` is set, with its first
    /// update.
    pub fn open(
        page_id: PageId,
        fresh: Fresh,
        c: Changes,
        board: &Board,
        now: DateTime<Utc>,
    ) -> Result<Outcome, DomainError> {
        let name = text::name("name", c.name.as_deref().unwrap_or(""))?;
        check_bounds(&c)?;
        if c.scheduled_for.is_none()
            && let Some(status) = c.status.filter(|s| s.is_maintenance())
        {
            return Err(DomainError::invalid(
                "scheduled_for",
                format!(
                    "a maintenance needs `scheduled_for` (when it starts, e.g. 2026-04-14T13:51:00Z) to be {}",
                    status.as_str()
                ),
            ));
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
        let life = Lifecycle::open(kind, status, now)?;
        let started_at = c.started_at.unwrap_or(now);
        let resolved_at = c.resolved_at.or(life.resolved_at);
        super::check_window(started_at, resolved_at, now)?;
        check_schedule(c.scheduled_for, c.scheduled_until)?;
        let due = promised(c.promise, now)?.filter(|_| status.is_open());
        let mut incident = Incident {
            id: fresh.incident_id,
            page_id,
            name: name.clone(),
            status,
            impact: Impact::None,
            impact_override: c.impact_override.flatten(),
            started_at,
            created_at: now,
            updated_at: now,
            monitoring_at: life.monitoring_at,
            resolved_at,
            next_update_due_at: due,
            postmortem_body: None,
            postmortem_body_last_updated_at: None,
            postmortem_published_at: None,
            postmortem_published_body: None,
            postmortem_ignored: false,
            postmortem_notified_subscribers: false,
            scheduled_for: c.scheduled_for,
            scheduled_until: c.scheduled_until,
            scheduled_remind_prior: c.scheduled_remind_prior.unwrap_or(false),
            scheduled_auto_in_progress: c.scheduled_auto_in_progress.unwrap_or(false),
            scheduled_auto_completed: c.scheduled_auto_completed.unwrap_or(false),
            metadata: c.metadata.clone().unwrap_or_else(|| json!({})),
            backfilled: c.backfilled.unwrap_or(false),
            plan: match kind {
                Kind::Maintenance => c.plan.apply(Plan {
                    announced_at: Some(now),
                    ..Plan::default()
                })?,
                Kind::Incident => Plan::default(),
            },
            updates: Vec::new(),
            components: Vec::new(),
        };
        let mut effects = Effects::default();
        effects.run(&mut incident, Step::Open(status), &c.components, board)?;
        incident.updates.push(Update {
            id: fresh.update_id.clone(),
            incident_id: incident.id.clone(),
            status,
            body: body_or_default(c.body.as_deref(), status),
            created_at: now,
            updated_at: now,
            display_at: now,
            deliver_notifications: c.deliver_notifications.unwrap_or(true),
            affected_components: effects.affected(),
            template: c.template.clone(),
            next_update_due_at: due,
            custom_tweet: c.custom_tweet.clone(),
            ordinal: 0,
        });
        incident.refresh_impact();
        // A maintenance published later is told of then, not now.
        let notify = c.deliver_notifications.unwrap_or(true) && incident.plan.published(now);
        let mut events = vec![Event::IncidentCreated {
            incident_id: incident.id.clone(),
            status,
            update_id: fresh.update_id,
            notify,
        }];
        events.extend(effects.events(&incident.id, notify));
        Ok(Outcome {
            audit: Audit {
                action: "incident.create",
                subject_type: "incident",
                subject_id: incident.id.to_string(),
                detail: json!({"name": name, "status": status}),
            },
            incident,
            created: true,
            deleted: false,
            posted_update: true,
            edited_update: None,
            component_changes: effects.changes,
            events,
            unchanged: false,
        })
    }

    /// Applies `command` at `now`. `update_id` names the update it may post.
    pub fn apply(
        &self,
        command: Command,
        board: &Board,
        update_id: UpdateId,
        now: DateTime<Utc>,
    ) -> Result<Outcome, DomainError> {
        match command {
            Command::Change(c) => self.change(c, board, update_id, now),
            Command::EditUpdate {
                update_id,
                body,
                display_at,
                deliver_notifications,
            } => self.edit_update(update_id, body, display_at, deliver_notifications, now),
            Command::Postmortem(action) => self.postmortem(action, now),
            Command::Delete => Ok(self.delete(board)),
        }
    }

    fn outcome(&self, next: Incident, events: Vec<Event>, audit: Audit) -> Outcome {
        Outcome {
            incident: next,
            created: false,
            deleted: false,
            posted_update: false,
            edited_update: None,
            component_changes: Vec::new(),
            events,
            audit,
            unchanged: false,
        }
    }

    fn change(
        &self,
        c: Changes,
        board: &Board,
        update_id: UpdateId,
        now: DateTime<Utc>,
    ) -> Result<Outcome, DomainError> {
        let mut next = self.clone();
        // Statuspage appends an update for a *change* of status or a new body; clients
        // that send the whole object back repeat the status unchanged.
        // So does a live incident giving its components new statuses: the update
        // records when, which is what uptime counts from.
        let gives = super::impact::giving(self);
        let moves_components = holds::live(self.status)
            && c.components
                .iter()
                .any(|(id, s)| match (gives.iter().find(|(g, _)| g == id), s) {
                    (None, _) => true,
                    (Some((_, given)), Some(s)) => given != s,
                    (Some(_), None) => false,
                });
        let posts = c.status.is_some_and(|s| s != self.status)
            || c.body.as_deref().is_some_and(|b| !b.trim().is_empty())
            || moves_components;
        if let Some(name) = &c.name {
            next.name = text::name("name", name)?;
        }
        check_bounds(&c)?;
        if let Some(o) = c.impact_override {
            next.impact_override = o;
        }
        if let Some(m) = &c.metadata {
            next.metadata = m.clone();
        }
        if let Some(v) = c.backfilled {
            next.backfilled = v;
        }
        let maintenance = self.kind() == Kind::Maintenance;
        if c.scheduled_for.is_some() && !maintenance {
            return Err(DomainError::invalid(
                "scheduled_for",
                "an incident cannot become a scheduled maintenance",
            ));
        }
        if c.scheduled_until.is_some() && !maintenance {
            return Err(DomainError::invalid(
                "scheduled_until",
                "only a scheduled maintenance has scheduled_until",
            ));
        }
        next.scheduled_for = c.scheduled_for.or(self.scheduled_for);
        next.scheduled_until = c.scheduled_until.or(self.scheduled_until);
        check_schedule(next.scheduled_for, next.scheduled_until)?;
        if let Some(v) = c.scheduled_remind_prior {
            next.scheduled_remind_prior = v;
        }
        if let Some(v) = c.scheduled_auto_in_progress {
            next.scheduled_auto_in_progress = v;
        }
        if let Some(v) = c.scheduled_auto_completed {
            next.scheduled_auto_completed = v;
        }
        if !c.plan.is_empty() && !maintenance {
            return Err(DomainError::invalid(
                "scheduled_reminders",
                "only a scheduled maintenance has automatic transitions and reminders",
            ));
        }
        next.plan = c.plan.apply(next.plan)?;
        let rescheduled = maintenance
            && matches!(
                self.status,
                IncidentStatus::Scheduled | IncidentStatus::InProgress | IncidentStatus::Verifying
            )
            && (next.scheduled_for != self.scheduled_for
                || next.scheduled_until != self.scheduled_until);
        if rescheduled {
            next.plan.announced_at = Some(now);
            if next.scheduled_until != self.scheduled_until {
                next.plan.overrun_at = None;
            }
        }
        if maintenance {
            next.plan.sequence = next.plan.sequence.saturating_add(1);
        }

        let mut moved = None;
        if posts {
            let to = c.status.unwrap_or(self.status);
            let (life, effect) = self.lifecycle().apply(Move::Update(to), now)?;
            next.status = life.status;
            next.monitoring_at = life.monitoring_at;
            next.resolved_at = life.resolved_at;
            next.next_update_due_at = promised(c.promise, now)?.filter(|_| life.status.is_open());
            moved = Some(effect);
        }
        if let Some(r) = c.resolved_at {
            if next.status.is_open() {
                return Err(DomainError::invalid(
                    "resolved_at",
                    "an open incident has no resolved_at",
                ));
            }
            next.resolved_at = Some(r);
        }
        next.started_at = c.started_at.unwrap_or(self.started_at);
        super::check_window(next.started_at, next.resolved_at, now)?;
        next.updated_at = now;

        let step = match moved {
            Some(_) => Step::Post {
                from: self.status,
                to: next.status,
            },
            None => Step::Edit(self.status),
        };
        let mut effects = Effects::default();
        effects.run(&mut next, step, &c.components, board)?;
        let mut events = Vec::new();
        if let Some(effect) = moved {
            let ordinal = next
                .updates
                .iter()
                .map(|u| u.ordinal + 1)
                .max()
                .unwrap_or(0);
            next.updates.insert(
                0,
                Update {
                    id: update_id.clone(),
                    incident_id: self.id.clone(),
                    status: next.status,
                    body: match c.body.as_deref().filter(|b| !b.trim().is_empty()) {
                        Some(b) => b.to_owned(),
                        None if next.status == self.status => COMPONENTS_UPDATED.to_owned(),
                        None => default_body(next.status).to_owned(),
                    },
                    created_at: now,
                    updated_at: now,
                    display_at: now,
                    deliver_notifications: c.deliver_notifications.unwrap_or(true),
                    affected_components: effects.affected(),
                    template: c.template.clone(),
                    next_update_due_at: next.next_update_due_at,
                    custom_tweet: c.custom_tweet.clone(),
                    ordinal,
                },
            );
            let m = StatusMove {
                incident_id: self.id.clone(),
                update_id,
                old_status: self.status,
                status: next.status,
                notify: c.deliver_notifications.unwrap_or(true),
            };
            events.push(match effect {
                MoveEffect::Closed { .. } => Event::IncidentResolved(m),
                MoveEffect::Reopened { .. } => Event::IncidentReopened(m),
                _ => Event::IncidentUpdated(m),
            });
        } else {
            // Not live (announced ahead, or over): what it names is part of its record
            // from the start, for the whole window.
            if let Some(opening) = next.updates.iter_mut().min_by_key(|u| u.ordinal) {
                for a in effects.affected.iter().cloned() {
                    let entries = opening.affected_components.get_or_insert_with(Vec::new);
                    match entries.iter_mut().find(|e| e.code == a.code) {
                        Some(e) => e.new_status = a.new_status,
                        None => entries.push(a),
                    }
                }
            }
            events.push(Event::IncidentEdited {
                incident_id: self.id.clone(),
            });
        }
        if rescheduled && let Some(from) = self.scheduled_for {
            events.push(Event::MaintenanceRescheduled {
                incident_id: self.id.clone(),
                from_for: from,
                from_until: self.scheduled_until,
                notify: c.deliver_notifications.unwrap_or(true),
            });
        }
        events.extend(effects.events(&self.id, c.deliver_notifications.unwrap_or(true)));
        next.refresh_impact();
        let audit = Audit {
            action: "incident.update",
            subject_type: "incident",
            subject_id: self.id.to_string(),
            detail: json!({"status": c.status, "name": c.name, "started_at": ts(c.started_at), "resolved_at": ts(c.resolved_at)}),
        };
        let mut out = self.outcome(next, events, audit);
        out.posted_update = moved.is_some();
        out.component_changes = effects.changes;
        Ok(out)
    }

    fn edit_update(
        &self,
        update_id: UpdateId,
        body: Option<String>,
        display_at: Option<DateTime<Utc>>,
        deliver_notifications: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, DomainError> {
        let mut next = self.clone();
        let Some(u) = next.updates.iter_mut().find(|u| u.id == update_id) else {
            return Err(DomainError::NotFound {
                what: "incident update",
                id: update_id.to_string(),
            });
        };
        if let Some(b) = &body {
            if b.trim().is_empty() {
                return Err(DomainError::invalid(
                    "body",
                    "an update's body must not be empty",
                ));
            }
            u.body = text::markdown("body", b, text::MAX_BODY)?;
        }
        let mut moved = None;
        if let Some(d) = display_at {
            let d = text::time("display_at", d)?;
            moved = Some((u.display_at, d, u.status, u.next_update_due_at));
            // A promise is relative to the update that made it.
            if let Some(due) = u.next_update_due_at {
                u.next_update_due_at = due
                    .checked_add_signed(d - u.display_at)
                    .and_then(|t| text::time("display_at", t).ok());
            }
            u.display_at = d;
        }
        if let Some(n) = deliver_notifications {
            u.deliver_notifications = n;
        }
        u.updated_at = now;
        let shifted_due = u.next_update_due_at;
        next.updated_at = now;
        // The times the update set follow it.
        if let Some((old, new, status, due)) = moved {
            if status == IncidentStatus::Monitoring && next.monitoring_at == Some(old) {
                next.monitoring_at = Some(new);
            }
            if !status.is_open() && next.resolved_at == Some(old) && new >= next.started_at {
                next.resolved_at = Some(new);
            }
            if due.is_some() && next.next_update_due_at == due {
                next.next_update_due_at = shifted_due;
            }
        }
        // Newest first by the time readers see, as the store orders them.
        next.updates.sort_by(|a, b| {
            b.display_at
                .cmp(&a.display_at)
                .then(b.ordinal.cmp(&a.ordinal))
        });
        let events = vec![Event::UpdateEdited {
            incident_id: self.id.clone(),
            update_id: update_id.clone(),
        }];
        let audit = Audit {
            action: "incident_update.edit",
            subject_type: "incident_update",
            subject_id: update_id.to_string(),
            detail: json!({"body_changed": body.is_some(), "display_at": ts(display_at)}),
        };
        let mut out = self.outcome(next, events, audit);
        out.edited_update = Some(update_id);
        Ok(out)
    }

    fn postmortem(
        &self,
        action: PostmortemAction,
        now: DateTime<Utc>,
    ) -> Result<Outcome, DomainError> {
        let mut next = self.clone();
        let id = self.id.clone();
        let (event, detail) = match action {
            PostmortemAction::Draft(body) => {
                if body.trim().is_empty() {
                    return Err(DomainError::invalid(
                        "body_draft",
                        "the postmortem must not be empty",
                    ));
                }
                self.lifecycle().apply(Move::DraftPostmortem, now)?;
                next.postmortem_body =
                    Some(text::markdown("body_draft", &body, text::MAX_POSTMORTEM)?);
                next.postmortem_body_last_updated_at = Some(now);
                (Event::PostmortemDrafted { incident_id: id }, json!({}))
            }
            PostmortemAction::Publish { notify_subscribers } => {
                let (life, _) = self.lifecycle().apply(Move::PublishPostmortem, now)?;
                // Publishing what readers already have changes nothing.
                if self.postmortem_published_at.is_some()
                    && self.postmortem_published_body == self.postmortem_body
                {
                    let mut out = self.outcome(
                        next,
                        Vec::new(),
                        Audit {
                            action: "postmortem.published",
                            subject_type: "incident",
                            subject_id: self.id.to_string(),
                            detail: json!({}),
                        },
                    );
                    out.unchanged = true;
                    return Ok(out);
                }
                next.status = life.status;
                next.postmortem_published_at = Some(now);
                next.postmortem_published_body = self.postmortem_body.clone();
                next.postmortem_notified_subscribers = notify_subscribers;
                (
                    Event::PostmortemPublished {
                        incident_id: id,
                        notify_subscribers,
                    },
                    json!({"notify_subscribers": notify_subscribers}),
                )
            }
            PostmortemAction::Revert => {
                let (life, _) = self.lifecycle().apply(Move::RevertPostmortem, now)?;
                next.status = life.status;
                next.postmortem_published_at = None;
                next.postmortem_published_body = None;
                (Event::PostmortemReverted { incident_id: id }, json!({}))
            }
            PostmortemAction::Delete => {
                if self.postmortem_published_at.is_some() {
                    let (life, _) = self.lifecycle().apply(Move::RevertPostmortem, now)?;
                    next.status = life.status;
                }
                next.postmortem_body = None;
                next.postmortem_body_last_updated_at = None;
                next.postmortem_published_at = None;
                next.postmortem_published_body = None;
                (Event::PostmortemDeleted { incident_id: id }, json!({}))
            }
        };
        // A draft is the responders' own work: the incident readers see did not change.
        if event.is_public() {
            next.updated_at = now;
        }
        let (kind, _) = event.to_parts();
        let audit = Audit {
            action: match event {
                Event::PostmortemDrafted { .. } => "postmortem.drafted",
                Event::PostmortemPublished { .. } => "postmortem.published",
                Event::PostmortemReverted { .. } => "postmortem.reverted",
                _ => "postmortem.deleted",
            },
            subject_type: "incident",
            subject_id: self.id.to_string(),
            detail,
        };
        debug_assert_eq!(kind, audit.action);
        Ok(self.outcome(next, vec![event], audit))
    }

    /// Deleting lets go of the components a live incident holds.
    fn delete(&self, board: &Board) -> Outcome {
        let mut effects = Effects::default();
        let mut scratch = self.clone();
        // Deleting names nothing, so no component can be refused.
        let _ = effects.run(&mut scratch, Step::Delete(self.status), &[], board);
        let mut events = vec![Event::IncidentDeleted {
            incident_id: self.id.clone(),
            name: self.name.clone(),
        }];
        events.extend(effects.events(&self.id, true));
        let audit = Audit {
            action: "incident.delete",
            subject_type: "incident",
            subject_id: self.id.to_string(),
            detail: json!({"name": self.name}),
        };
        let mut out = self.outcome(self.clone(), events, audit);
        out.deleted = true;
        out.component_changes = effects.changes;
        out
    }
}

/// Collects the component effects of one step.
#[derive(Default)]
struct Effects {
    affected: Vec<AffectedComponent>,
    changes: Vec<ComponentChange>,
}

impl Effects {
    /// Runs the rules over the components `named` and those the incident holds, records
    /// the affected ones on `incident` (keeping the worst status each had) and collects
    /// the live changes.
    fn run(
        &mut self,
        incident: &mut Incident,
        step: Step,
        named: &[(ComponentId, Option<ComponentStatus>)],
        board: &Board,
    ) -> Result<(), DomainError> {
        let mut seen = HashSet::new();
        let order: Vec<(ComponentId, Named)> = named
            .iter()
            .map(|(id, s)| (id.clone(), s.map_or(Named::WithoutStatus, Named::With)))
            .chain(
                incident
                    .components
                    .iter()
                    .map(|(id, _)| (id.clone(), Named::No)),
            )
            .filter(|(id, _)| seen.insert(id.clone()))
            .collect();
        for (id, how) in order {
            let facts = match board.get(&id) {
                Some(f) if !f.is_group => f,
                Some(_) if how != Named::No => {
                    return Err(DomainError::invalid(
                        format!("components.{id}"),
                        format!(
                            "'{id}' is a component group; name its components, or use component_group_ids"
                        ),
                    ));
                }
                None if how != Named::No => {
                    return Err(DomainError::invalid(
                        format!("components.{id}"),
                        format!("component '{id}' does not exist"),
                    ));
                }
                // A held component that no longer exists is left as recorded.
                _ => continue,
            };
            let held = incident.held(&id);
            let elsewhere = holds::held_elsewhere(facts.holds.iter().copied());
            let e = holds::effect(step, how, held, facts.status, elsewhere);
            if let Some(new) = e.affected {
                self.affected.push(AffectedComponent {
                    code: id.clone(),
                    name: facts.name.clone(),
                    old_status: facts.status,
                    new_status: new,
                });
            }
            // The incident remembers each component at the worst status it gave it.
            match (how, incident.components.iter_mut().find(|(c, _)| *c == id)) {
                (Named::With(new), Some((_, s))) => *s = (*s).max(new),
                (Named::With(new), None) => incident.components.push((id.clone(), new)),
                (Named::WithoutStatus, None) => {
                    incident.components.push((id.clone(), facts.status))
                }
                _ => {}
            }
            if let Some(to) = e.live.filter(|to| *to != facts.status) {
                self.changes.push(ComponentChange {
                    component_id: id,
                    from: facts.status,
                    to,
                });
            }
        }
        Ok(())
    }

    fn affected(&self) -> Option<Vec<AffectedComponent>> {
        (!self.affected.is_empty()).then(|| self.affected.clone())
    }

    fn events<'a>(
        &'a self,
        incident_id: &'a IncidentId,
        notify: bool,
    ) -> impl Iterator<Item = Event> + 'a {
        self.changes
            .iter()
            .map(move |c| Event::ComponentStatusChanged {
                component_id: c.component_id.clone(),
                old_status: c.from,
                new_status: c.to,
                incident_id: Some(incident_id.clone()),
                notify,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus::*;
    use IncidentStatus::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    fn fresh(n: u32) -> Fresh {
        Fresh {
            incident_id: IncidentId::new(format!("inc{n}")),
            update_id: UpdateId::new(format!("upd{n}")),
        }
    }

    type Entry<'a> = (
        &'a str,
        ComponentStatus,
        &'a [(IncidentStatus, ComponentStatus)],
    );

    fn board(entries: &[Entry<'_>]) -> Board {
        entries
            .iter()
            .map(|(id, status, holds)| {
                (
                    ComponentId::from(*id),
                    ComponentFacts {
                        name: id.to_uppercase(),
                        status: *status,
                        is_group: false,
                        holds: holds.to_vec(),
                    },
                )
            })
            .collect()
    }

    fn ok<T>(r: Result<T, DomainError>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn opening_sets_components_and_records_them() {
        let b = board(&[("voice", Operational, &[]), ("kb", Operational, &[])]);
        let out = ok(Incident::open(
            "page".into(),
            fresh(1),
            Changes {
                name: Some(" Calls dropping ".into()),
                components: vec![
                    ("voice".into(), Some(MajorOutage)),
                    ("kb".into(), Some(DegradedPerformance)),
                ],
                promise: Some(Promise::Within(30)),
                ..Changes::default()
            },
            &b,
            now(),
        ));
        let i = &out.incident;
        assert_eq!(i.name, "Calls dropping");
        assert_eq!(i.status, Investigating);
        assert_eq!(i.impact, Impact::Critical);
        assert_eq!(i.next_update_due_at, Some(now() + Duration::minutes(30)));
        assert_eq!(i.updates.len(), 1);
        assert_eq!(i.updates[0].body, default_body(Investigating));
        assert_eq!(out.component_changes.len(), 2);
        assert!(matches!(out.events[0], Event::IncidentCreated { .. }));
        assert_eq!(out.events.len(), 3, "{:?}", out.events);
    }

    #[test]
    fn naming_a_group_or_an_unknown_component_is_refused() {
        let mut b = board(&[("pod", Operational, &[])]);
        if let Some(f) = b.get_mut(&ComponentId::from("pod")) {
            f.is_group = true;
        }
        for id in ["pod", "nope"] {
            let err = Incident::open(
                "page".into(),
                fresh(1),
                Changes {
                    name: Some("x".into()),
                    components: vec![(id.into(), Some(MajorOutage))],
                    ..Changes::default()
                },
                &b,
                now(),
            )
            .err();
            assert_eq!(
                err.as_ref().and_then(DomainError::field),
                Some(format!("components.{id}").as_str())
            );
        }
    }

    #[test]
    fn closing_returns_components_to_what_others_hold() {
        let b = board(&[("api", MajorOutage, &[])]);
        let a = ok(Incident::open(
            "page".into(),
            fresh(1),
            Changes {
                name: Some("A".into()),
                components: vec![("api".into(), Some(MajorOutage))],
                ..Changes::default()
            },
            &b,
            now(),
        ))
        .incident;
        let held_by_b = board(&[("api", MajorOutage, &[(Identified, DegradedPerformance)])]);
        let out = ok(a.apply(
            Command::Change(Changes {
                status: Some(Resolved),
                ..Changes::default()
            }),
            &held_by_b,
            "upd2".into(),
            now(),
        ));
        assert_eq!(
            out.component_changes,
            [ComponentChange {
                component_id: "api".into(),
                from: MajorOutage,
                to: DegradedPerformance
            }]
        );
        assert_eq!(
            out.incident.components,
            [("api".into(), MajorOutage)],
            "the incident remembers the worst"
        );
        assert!(matches!(out.events[0], Event::IncidentResolved(_)));
        assert_eq!(out.incident.resolved_at, Some(now()));
    }

    #[test]
    fn deleting_a_live_incident_releases_its_components() {
        let b = board(&[("api", Operational, &[])]);
        let a = ok(Incident::open(
            "page".into(),
            fresh(1),
            Changes {
                name: Some("A".into()),
                components: vec![("api".into(), Some(PartialOutage))],
                ..Changes::default()
            },
            &b,
            now(),
        ))
        .incident;
        let out = ok(a.apply(
            Command::Delete,
            &board(&[("api", PartialOutage, &[])]),
            "u".into(),
            now(),
        ));
        assert!(out.deleted);
        assert_eq!(out.component_changes[0].to, Operational);
        assert!(matches!(out.events[0], Event::IncidentDeleted { .. }));
    }

    #[test]
    fn a_future_start_names_started_at() {
        let err = Incident::open(
            "page".into(),
            fresh(1),
            Changes {
                name: Some("x".into()),
                started_at: Some(now() + Duration::hours(1)),
                ..Changes::default()
            },
            &Board::new(),
            now(),
        )
        .err();
        assert_eq!(
            err.as_ref().and_then(DomainError::field),
            Some("started_at")
        );
    }

    #[test]
    fn a_promise_is_relative_to_its_update_and_bounded() {
        assert_eq!(
            promised(Some(Promise::Within(30)), now()).ok().flatten(),
            Some(now() + Duration::minutes(30))
        );
        for bad in [Promise::Within(0), Promise::Within(MAX_PROMISE_MINUTES + 1)] {
            assert!(promised(Some(bad), now()).is_err());
        }
        assert!(promised(Some(Promise::By(now())), now()).is_err());
    }

    #[test]
    fn the_same_status_without_a_body_posts_nothing() {
        let i = ok(Incident::open(
            "page".into(),
            fresh(1),
            Changes {
                name: Some("Slow".into()),
                status: Some(Identified),
                ..Changes::default()
            },
            &Board::new(),
            now(),
        ))
        .incident;
        let out = ok(i.apply(
            Command::Change(Changes {
                name: Some("Slow search".into()),
                status: Some(Identified),
                ..Changes::default()
            }),
            &Board::new(),
            "u2".into(),
            now(),
        ));
        assert!(!out.posted_update);
        assert_eq!(out.incident.updates.len(), 1);
        assert!(matches!(out.events[0], Event::IncidentEdited { .. }));
    }
}

/// Incidents for other modules' tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// An open incident with nothing in it.
    pub fn blank(id: &str) -> Incident {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        Incident {
            id: IncidentId::new(id),
            page_id: PageId::new("page"),
            name: "Blank".into(),
            status: IncidentStatus::Investigating,
            impact: Impact::None,
            impact_override: None,
            started_at: t,
            created_at: t,
            updated_at: t,
            monitoring_at: None,
            resolved_at: None,
            next_update_due_at: None,
            postmortem_body: None,
            postmortem_body_last_updated_at: None,
            postmortem_published_at: None,
            postmortem_published_body: None,
            postmortem_ignored: false,
            postmortem_notified_subscribers: false,
            scheduled_for: None,
            scheduled_until: None,
            scheduled_remind_prior: false,
            scheduled_auto_in_progress: false,
            scheduled_auto_completed: false,
            metadata: json!({}),
            backfilled: false,
            plan: Plan::default(),
            updates: Vec::new(),
            components: Vec::new(),
        }
    }
}
