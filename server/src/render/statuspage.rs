//! Statuspage's JSON shapes, built from store records: the public API v2 documents and,
//! with `V1` extras, the manage API v1 objects. Times carry the page's zone offset.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::{Component, Incident, Update as IncidentUpdate};
use crate::domain::{
    ComponentId, ComponentStatus, Impact, IncidentId, IncidentStatus, PageId, UpdateId,
};
use crate::store::pages::Page;

/// How a page writes its times and links.
#[derive(Debug, Clone)]
pub struct PageCtx {
    pub id: PageId,
    /// The public URL, without a trailing slash.
    pub url: String,
    /// Its path (`/status`), which every link starts with; empty at the root.
    pub base: String,
    pub tz: Tz,
}

impl PageCtx {
    pub fn new(page: &Page) -> PageCtx {
        let url = page.url.trim_end_matches('/').to_owned();
        PageCtx {
            id: page.id.clone(),
            base: base_path(&url),
            url,
            tz: page.time_zone.parse().unwrap_or(Tz::UTC),
        }
    }

    /// ISO 8601 with milliseconds and the page's offset; `Z` for a UTC page.
    pub fn ts(&self, t: DateTime<Utc>) -> String {
        // Stored times are checked on the way in; an older one out of range is written at
        // the nearest bound rather than overflowing the zone's offset.
        let t = t.clamp(
            crate::domain::text::earliest(),
            crate::domain::text::latest(),
        );
        if matches!(
            self.tz,
            Tz::UTC
                | Tz::Etc__UTC
                | Tz::Etc__GMT
                | Tz::GMT
                | Tz::Etc__Zulu
                | Tz::Zulu
                | Tz::UCT
                | Tz::Etc__UCT
                | Tz::Universal
                | Tz::Etc__Universal
        ) {
            super::time::iso_ms(t)
        } else {
            t.with_timezone(&self.tz)
                .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string()
        }
    }

    pub fn ts_opt(&self, t: Option<DateTime<Utc>>) -> Option<String> {
        t.map(|t| self.ts(t))
    }

    pub fn shortlink(&self, incident_id: &IncidentId) -> String {
        format!("{}/incidents/{incident_id}", self.url)
    }
}

/// The path of a public URL, without the trailing slash: `https://x.example/status/`
/// gives `/status`, the root gives an empty string.
pub fn base_path(public_url: &str) -> String {
    url::Url::parse(public_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PageDoc {
    pub id: PageId,
    pub name: String,
    pub url: String,
    pub time_zone: String,
    pub updated_at: String,
}

pub fn page_doc(page: &Page, ctx: &PageCtx) -> PageDoc {
    PageDoc {
        id: page.id.clone(),
        name: page.name.clone(),
        url: ctx.url.clone(),
        time_zone: page.time_zone.clone(),
        updated_at: ctx.ts(page.updated_at),
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ComponentDoc {
    pub id: ComponentId,
    pub name: String,
    pub status: ComponentStatus,
    pub created_at: String,
    pub updated_at: String,
    pub position: i32,
    pub description: Option<String>,
    pub showcase: bool,
    pub start_date: Option<String>,
    pub group_id: Option<ComponentId>,
    pub page_id: PageId,
    pub group: bool,
    pub only_show_if_degraded: bool,
    /// Only on groups: the ids of the components inside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<ComponentId>>,
    /// Manage API only. Statuspage's email-to-component address; Herald takes no
    /// inbound email, so it is null there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automation_email: Option<Option<String>>,
}

/// Component documents for every component, with group statuses rolled up from their
/// children (a group shows the worst status among its components).
pub struct ComponentIndex<'a> {
    all: &'a [Component],
    by_id: HashMap<&'a ComponentId, &'a Component>,
    children: HashMap<&'a ComponentId, Vec<&'a Component>>,
}

impl<'a> ComponentIndex<'a> {
    pub fn new(all: &'a [Component]) -> Self {
        let mut children: HashMap<&ComponentId, Vec<&Component>> = HashMap::new();
        for c in all {
            if let Some(g) = &c.group_id {
                children.entry(g).or_default().push(c);
            }
        }
        ComponentIndex {
            all,
            by_id: all.iter().map(|c| (&c.id, c)).collect(),
            children,
        }
    }

    pub fn get(&self, id: &ComponentId) -> Option<&'a Component> {
        self.by_id.get(id).copied()
    }

    pub fn children(&self, group_id: &ComponentId) -> &[&'a Component] {
        self.children
            .get(group_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every component and group in the board's order: each group (as the page lists
    /// them) followed by its components, then the components in no group.
    pub fn board_order(&self) -> Vec<&'a Component> {
        let mut out = Vec::with_capacity(self.all.len());
        let mut loose = Vec::new();
        for c in self.all.iter().filter(|c| c.group_id.is_none()) {
            if c.is_group {
                out.push(c);
                out.extend(self.children(&c.id).iter().copied());
            } else {
                loose.push(c);
            }
        }
        out.extend(loose);
        out
    }

    pub fn status(&self, c: &Component) -> ComponentStatus {
        if c.is_group {
            self.children(&c.id)
                .iter()
                .map(|c| c.status)
                .max()
                .unwrap_or(ComponentStatus::Operational)
        } else {
            c.status
        }
    }

    pub fn doc(&self, c: &Component, ctx: &PageCtx, flavor: Flavor) -> ComponentDoc {
        ComponentDoc {
            id: c.id.clone(),
            name: c.name.clone(),
            status: self.status(c),
            created_at: ctx.ts(c.created_at),
            updated_at: ctx.ts(c.updated_at),
            position: c.position,
            description: c.description.clone(),
            showcase: c.showcase,
            start_date: c.start_date.map(|d| d.format("%Y-%m-%d").to_string()),
            group_id: c.group_id.clone(),
            page_id: c.page_id.clone(),
            group: c.is_group,
            only_show_if_degraded: c.only_show_if_degraded,
            components: c
                .is_group
                .then(|| self.children(&c.id).iter().map(|c| c.id.clone()).collect()),
            automation_email: (flavor == Flavor::Manage).then_some(None),
        }
    }

    pub fn docs(&self, ctx: &PageCtx, flavor: Flavor) -> Vec<ComponentDoc> {
        self.all.iter().map(|c| self.doc(c, ctx, flavor)).collect()
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AffectedComponentDoc {
    pub code: ComponentId,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IncidentUpdateDoc {
    pub id: UpdateId,
    pub status: IncidentStatus,
    pub body: String,
    pub incident_id: IncidentId,
    pub created_at: String,
    pub updated_at: String,
    pub display_at: String,
    pub affected_components: Option<Vec<AffectedComponentDoc>>,
    pub deliver_notifications: bool,
    pub custom_tweet: Option<String>,
    pub tweet_id: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub v1: Option<IncidentUpdateV1>,
}

/// Fields the manage API adds to an update.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IncidentUpdateV1 {
    pub twitter_updated_at: Option<String>,
    pub wants_twitter_update: bool,
    /// Herald: when this update promised the next one.
    pub next_update_due_at: Option<String>,
    /// Herald: the message template this update came from.
    pub template: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IncidentDoc {
    pub id: IncidentId,
    pub name: String,
    pub status: IncidentStatus,
    pub created_at: String,
    pub updated_at: String,
    pub monitoring_at: Option<String>,
    pub resolved_at: Option<String>,
    pub impact: Impact,
    pub shortlink: String,
    pub started_at: String,
    pub page_id: PageId,
    /// Newest first.
    pub incident_updates: Vec<IncidentUpdateDoc>,
    /// The affected components, in their current state.
    pub components: Vec<ComponentDoc>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub window: Option<MaintenanceWindow>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub v1: Option<IncidentV1>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MaintenanceWindow {
    pub scheduled_for: Option<String>,
    pub scheduled_until: Option<String>,
}

/// Fields the manage API adds to an incident.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IncidentV1 {
    pub impact_override: Option<Impact>,
    pub scheduled_for: Option<String>,
    pub scheduled_until: Option<String>,
    pub scheduled_remind_prior: bool,
    pub scheduled_reminded_at: Option<String>,
    pub scheduled_auto_in_progress: bool,
    pub scheduled_auto_completed: bool,
    pub auto_transition_to_maintenance_state: bool,
    pub auto_transition_to_operational_state: bool,
    pub auto_transition_deliver_notifications_at_start: bool,
    pub auto_transition_deliver_notifications_at_end: bool,
    /// Herald: a maintenance held back from readers until then.
    pub publish_at: Option<String>,
    pub metadata: serde_json::Value,
    pub backfilled: bool,
    pub postmortem_body: Option<String>,
    pub postmortem_body_last_updated_at: Option<String>,
    pub postmortem_ignored: bool,
    pub postmortem_notified_subscribers: bool,
    pub postmortem_notified_twitter: bool,
    pub postmortem_published_at: Option<String>,
    pub reminder_intervals: Option<String>,
    /// Herald: when the next update is promised, while the incident is open.
    pub next_update_due_at: Option<String>,
    /// Herald: the promised update is late (set by the manage API, which knows the time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_update_overdue: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// The public API v2.
    Public,
    /// The manage API v1, with its extra fields.
    Manage,
}

pub fn update_doc(u: &IncidentUpdate, ctx: &PageCtx, flavor: Flavor) -> IncidentUpdateDoc {
    IncidentUpdateDoc {
        id: u.id.clone(),
        status: u.status,
        body: u.body.clone(),
        incident_id: u.incident_id.clone(),
        created_at: ctx.ts(u.created_at),
        updated_at: ctx.ts(u.updated_at),
        display_at: ctx.ts(u.display_at),
        affected_components: u.affected_components.as_ref().map(|a| {
            a.iter()
                .map(|a| AffectedComponentDoc {
                    code: a.code.clone(),
                    name: a.name.clone(),
                    old_status: a.old_status,
                    new_status: a.new_status,
                })
                .collect()
        }),
        deliver_notifications: u.deliver_notifications,
        custom_tweet: u.custom_tweet.clone(),
        tweet_id: None,
        v1: (flavor == Flavor::Manage).then(|| IncidentUpdateV1 {
            twitter_updated_at: None,
            wants_twitter_update: false,
            next_update_due_at: ctx.ts_opt(u.next_update_due_at),
            template: u.template.clone(),
        }),
    }
}

pub fn incident_doc(
    i: &Incident,
    index: &ComponentIndex<'_>,
    ctx: &PageCtx,
    flavor: Flavor,
) -> IncidentDoc {
    let maintenance = i.scheduled_for.is_some();
    IncidentDoc {
        id: i.id.clone(),
        name: i.name.clone(),
        status: i.status,
        created_at: ctx.ts(i.created_at),
        updated_at: ctx.ts(i.updated_at),
        monitoring_at: ctx.ts_opt(i.monitoring_at),
        resolved_at: ctx.ts_opt(i.resolved_at),
        impact: i.impact,
        shortlink: ctx.shortlink(&i.id),
        started_at: ctx.ts(i.started_at),
        page_id: i.page_id.clone(),
        incident_updates: i
            .updates
            .iter()
            .map(|u| update_doc(u, ctx, flavor))
            .collect(),
        components: i
            .components
            .iter()
            .filter_map(|(cid, _)| index.get(cid))
            .map(|c| index.doc(c, ctx, flavor))
            .collect(),
        window: (maintenance && flavor == Flavor::Public).then(|| MaintenanceWindow {
            scheduled_for: ctx.ts_opt(i.scheduled_for),
            scheduled_until: ctx.ts_opt(i.scheduled_until),
        }),
        v1: (flavor == Flavor::Manage).then(|| IncidentV1 {
            impact_override: i.impact_override,
            scheduled_for: ctx.ts_opt(i.scheduled_for),
            scheduled_until: ctx.ts_opt(i.scheduled_until),
            scheduled_remind_prior: i.scheduled_remind_prior,
            scheduled_reminded_at: None,
            scheduled_auto_in_progress: i.scheduled_auto_in_progress,
            scheduled_auto_completed: i.scheduled_auto_completed,
            auto_transition_to_maintenance_state: i.plan.to_maintenance_state,
            auto_transition_to_operational_state: i.plan.to_operational_state,
            auto_transition_deliver_notifications_at_start: i.plan.notify_at_start,
            auto_transition_deliver_notifications_at_end: i.plan.notify_at_end,
            publish_at: ctx.ts_opt(i.plan.publish_at),
            metadata: i.metadata.clone(),
            backfilled: i.backfilled,
            // Readers (and the manage API's incident) see the published text; the draft
            // is at `.../postmortem`.
            postmortem_body: i.postmortem_published_body.clone(),
            postmortem_body_last_updated_at: ctx.ts_opt(i.postmortem_body_last_updated_at),
            postmortem_ignored: i.postmortem_ignored,
            postmortem_notified_subscribers: i.postmortem_notified_subscribers,
            postmortem_notified_twitter: false,
            postmortem_published_at: ctx.ts_opt(i.postmortem_published_at),
            reminder_intervals: None,
            next_update_due_at: ctx.ts_opt(i.next_update_due_at),
            next_update_overdue: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_base_is_the_public_urls_path() {
        assert_eq!(super::base_path("https://example.com/status/"), "/status");
        assert_eq!(super::base_path("https://example.com/a/b"), "/a/b");
        assert_eq!(super::base_path("https://example.com"), "");
        assert_eq!(super::base_path("http://127.0.0.1:8080/"), "");
    }
}
