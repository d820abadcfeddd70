//! What a mail says: subject, plain text and HTML rendered from `templates/email/`, in the
//! page's time zone with UTC beside it. A message is rendered once per event (and per
//! tenant, whose mail names what it runs on); the links that differ per subscriber are
//! put in afterwards.

use std::{num::NonZeroUsize, sync::Arc};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lru::LruCache;
use serde::Serialize;

use crate::domain::{Component, ComponentId, ComponentStatus, Incident, IncidentStatus, UpdateId};
use crate::render::{
    markdown,
    statuspage::ComponentIndex,
    templates::Renderer,
    time::{TimeView, time_view},
};

/// Stand-ins for the per-subscriber links, replaced after rendering (they survive HTML
/// escaping unchanged).
pub const MANAGE: &str = "HERALD0MANAGE0URL";
pub const UNSUBSCRIBE: &str = "HERALD0UNSUBSCRIBE0URL";

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Rendered {
    /// With the subscriber's links in place of the stand-ins.
    pub fn personal(&self, manage: &str, unsubscribe: &str) -> Rendered {
        let put = |s: &str| s.replace(MANAGE, manage).replace(UNSUBSCRIBE, unsubscribe);
        Rendered {
            subject: self.subject.clone(),
            text: put(&self.text),
            html: put(&self.html),
        }
    }
}

#[derive(Serialize)]
struct AffectedView {
    name: String,
    group: Option<String>,
    status_label: &'static str,
}

#[derive(Serialize)]
struct IncidentMail {
    name: String,
    url: String,
    status_label: &'static str,
    colour: &'static str,
    is_maintenance: bool,
    at: TimeView,
    body_html: String,
    body_text: String,
    next_update: Option<TimeView>,
    affected: Vec<AffectedView>,
}

#[derive(Serialize)]
struct ComponentMail {
    name: String,
    group: Option<String>,
    status_label: &'static str,
    old_status_label: &'static str,
    at: TimeView,
}

#[derive(Serialize)]
struct ConfirmMail {
    url: String,
    components: Option<String>,
}

#[derive(Serialize)]
struct SignInMail {
    url: String,
    /// A reset, not an invitation.
    reset: bool,
    hours: i64,
}

#[derive(Serialize)]
struct TenantView {
    name: String,
    /// What it runs on that is affected, in words ("Prod2 (EU)").
    affected: String,
    plural: bool,
    /// Everything it runs on, in words.
    runs_on: String,
}

#[derive(Serialize)]
struct MailView<'a> {
    subject: &'a str,
    page_name: &'a str,
    page_url: &'a str,
    manage_url: Option<&'a str>,
    unsubscribe_url: Option<&'a str>,
    tenant: Option<TenantView>,
    incident: Option<IncidentMail>,
    component: Option<ComponentMail>,
    confirm: Option<ConfirmMail>,
    sign_in: Option<SignInMail>,
    /// Said first, over the rest: a maintenance reminder, a reschedule.
    notice: Option<&'a str>,
}

/// The page as mail needs it.
#[derive(Debug, Clone)]
pub struct PageFacts {
    pub name: String,
    pub url: String,
    pub tz: Tz,
    pub components: Vec<Component>,
}

/// A tenant as mail names it.
#[derive(Debug, Clone)]
pub struct TenantFacts {
    pub name: String,
    pub runs_on: Vec<ComponentId>,
}

fn colour(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Investigating => "#cf222e",
        IncidentStatus::Identified => "#bc4c00",
        IncidentStatus::Monitoring => "#9a6700",
        IncidentStatus::Resolved | IncidentStatus::Completed | IncidentStatus::Postmortem => {
            "#1a7f37"
        }
        _ => "#0969da",
    }
}

fn names(ids: &[&ComponentId], index: &ComponentIndex<'_>) -> String {
    let v: Vec<String> = ids
        .iter()
        .filter_map(|id| index.get(id).map(|c| c.name.clone()))
        .collect();
    match v.len() {
        0 => String::new(),
        1 => v[0].clone(),
        n => format!("{} and {}", v[..n - 1].join(", "), v[n - 1]),
    }
}

/// The subject of every mail about `i`, the same for the whole thread.
pub fn subject(page: &str, i: &Incident) -> String {
    if i.scheduled_for.is_some() {
        format!("[{page}] Scheduled maintenance: {}", i.name)
    } else {
        format!("[{page}] {}", i.name)
    }
}

/// Said first in an incident mail, over the update it shows; its kind names the mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A maintenance starts soon.
    Reminder(String),
    /// A maintenance's window moved.
    Rescheduled(String),
}

impl Notice {
    pub fn text(&self) -> &str {
        match self {
            Notice::Reminder(t) | Notice::Rescheduled(t) => t,
        }
    }
}

/// What an event tells, as one of the mails below.
pub enum About<'a> {
    /// An update of an incident (`None`: its postmortem was published).
    Incident {
        incident: &'a Incident,
        update: Option<&'a UpdateId>,
        /// Said first: a maintenance reminder, a reschedule.
        notice: Option<&'a Notice>,
    },
    /// A component's status set outside any incident.
    Component {
        id: &'a ComponentId,
        old: ComponentStatus,
        new: ComponentStatus,
        at: DateTime<Utc>,
    },
}

pub struct Composer {
    renderer: Arc<Renderer>,
    markdown: Arc<markdown::Cache>,
    cache: std::sync::Mutex<LruCache<(i64, String), Arc<Rendered>>>,
}

impl Composer {
    pub fn new(renderer: Arc<Renderer>, markdown: Arc<markdown::Cache>) -> Composer {
        Composer {
            renderer,
            markdown,
            cache: std::sync::Mutex::new(LruCache::new(
                NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    fn render(&self, name: &str, view: &MailView<'_>) -> Result<Rendered, String> {
        let text = self
            .renderer
            .render(&format!("email/{name}.txt"), view)
            .map_err(|e| e.to_string())?;
        let html = self
            .renderer
            .render(&format!("email/{name}.html"), view)
            .map_err(|e| e.to_string())?;
        Ok(Rendered {
            subject: view.subject.to_owned(),
            text,
            html,
        })
    }

    /// The mail about event `seq` for a subscriber (`tenant: None`, with link
    /// stand-ins) or a tenant; rendered once per event and audience.
    pub fn event_mail(
        &self,
        seq: i64,
        page: &PageFacts,
        about: &About<'_>,
        tenant: Option<(&str, &TenantFacts)>,
    ) -> Result<Arc<Rendered>, String> {
        let key = (
            seq,
            tenant.map_or_else(String::new, |(id, _)| id.to_owned()),
        );
        // A preview (no event yet, `seq` below 0) is never cached.
        let cached = seq >= 0;
        if let Some(hit) = self
            .cache
            .lock()
            .ok()
            .filter(|_| cached)
            .and_then(|mut c| c.get(&key).cloned())
        {
            return Ok(hit);
        }
        let index = ComponentIndex::new(&page.components);
        let group_of = |id: &ComponentId| index.get(id).and_then(|c| c.group_id.clone());
        let affected_ids: Vec<ComponentId> = match about {
            About::Incident { incident, .. } => {
                incident.components.iter().map(|(c, _)| c.clone()).collect()
            }
            About::Component { id, .. } => vec![(*id).clone()],
        };
        let tenant_view = tenant.map(|(_, t)| {
            let hit: Vec<&ComponentId> = t
                .runs_on
                .iter()
                .filter(|r| {
                    affected_ids
                        .iter()
                        .any(|a| a == *r || group_of(a).as_ref() == Some(*r))
                })
                .collect();
            let all: Vec<&ComponentId> = t.runs_on.iter().collect();
            TenantView {
                name: t.name.clone(),
                affected: names(&hit, &index),
                plural: hit.len() > 1,
                runs_on: names(&all, &index),
            }
        });
        let (manage, unsubscribe) = if tenant.is_some() {
            (None, None)
        } else {
            (Some(MANAGE), Some(UNSUBSCRIBE))
        };
        let rendered = match about {
            About::Incident {
                incident: i,
                update,
                notice,
            } => {
                let subject = match notice {
                    Some(Notice::Reminder(_)) => {
                        format!(
                            "[{}] Reminder: scheduled maintenance: {}",
                            page.name, i.name
                        )
                    }
                    Some(Notice::Rescheduled(_)) => {
                        format!("[{}] Rescheduled maintenance: {}", page.name, i.name)
                    }
                    None => subject(&page.name, i),
                };
                let u = update.and_then(|id| i.updates.iter().find(|u| &u.id == id));
                let (status, body, at, next) = match u {
                    Some(u) => (
                        u.status,
                        u.body.clone(),
                        u.display_at,
                        u.next_update_due_at.filter(|_| i.status.is_open()),
                    ),
                    // A published postmortem.
                    None => (
                        IncidentStatus::Postmortem,
                        i.postmortem_published_body.clone().unwrap_or_default(),
                        i.postmortem_published_at.unwrap_or(i.updated_at),
                        None,
                    ),
                };
                let statuses = if crate::domain::holds::live(i.status) {
                    crate::domain::impact::giving(i)
                } else {
                    i.components.clone()
                };
                let view = MailView {
                    subject: &subject,
                    page_name: &page.name,
                    page_url: &page.url,
                    manage_url: manage,
                    unsubscribe_url: unsubscribe,
                    tenant: tenant_view,
                    notice: notice.map(Notice::text),
                    incident: Some(IncidentMail {
                        name: i.name.clone(),
                        url: format!("{}/incidents/{}", page.url, i.id),
                        status_label: status.label(),
                        colour: colour(status),
                        is_maintenance: i.scheduled_for.is_some(),
                        at: time_view(at, page.tz),
                        body_html: self.markdown.html(&body).to_string(),
                        body_text: self.markdown.text(&body).to_string(),
                        next_update: next.map(|t| time_view(t, page.tz)),
                        affected: statuses
                            .iter()
                            .filter_map(|(id, s)| {
                                index.get(id).map(|c| AffectedView {
                                    name: c.name.clone(),
                                    group: c
                                        .group_id
                                        .as_ref()
                                        .and_then(|g| index.get(g))
                                        .map(|g| g.name.clone()),
                                    status_label: s.label(),
                                })
                            })
                            .collect(),
                    }),
                    component: None,
                    confirm: None,
                    sign_in: None,
                };
                self.render("incident", &view)?
            }
            About::Component { id, old, new, at } => {
                let c = index.get(id);
                let name = c.map_or_else(|| id.to_string(), |c| c.name.clone());
                let subject = format!("[{}] {name} is {}", page.name, new.label());
                let view = MailView {
                    subject: &subject,
                    page_name: &page.name,
                    page_url: &page.url,
                    manage_url: manage,
                    unsubscribe_url: unsubscribe,
                    tenant: tenant_view,
                    incident: None,
                    component: Some(ComponentMail {
                        name,
                        group: c
                            .and_then(|c| c.group_id.as_ref())
                            .and_then(|g| index.get(g))
                            .map(|g| g.name.clone()),
                        status_label: new.label(),
                        old_status_label: old.label(),
                        at: time_view(*at, page.tz),
                    }),
                    confirm: None,
                    sign_in: None,
                    notice: None,
                };
                self.render("component", &view)?
            }
        };
        let rendered = Arc::new(rendered);
        if cached && let Ok(mut c) = self.cache.lock() {
            c.put(key, rendered.clone());
        }
        Ok(rendered)
    }

    /// The confirmation mail with its link, naming what the person asked to follow.
    pub fn confirmation(
        &self,
        page: &PageFacts,
        url: &str,
        follows: &[ComponentId],
    ) -> Result<Rendered, String> {
        let index = ComponentIndex::new(&page.components);
        let ids: Vec<&ComponentId> = follows.iter().collect();
        let subject = format!("Confirm your subscription to {} status updates", page.name);
        let view = MailView {
            subject: &subject,
            page_name: &page.name,
            page_url: &page.url,
            manage_url: None,
            unsubscribe_url: None,
            tenant: None,
            incident: None,
            component: None,
            confirm: Some(ConfirmMail {
                url: url.to_owned(),
                components: (!ids.is_empty()).then(|| names(&ids, &index)),
            }),
            sign_in: None,
            notice: None,
        };
        self.render("confirm", &view)
    }

    /// The one-time sign-in link for a console user: an invitation or a reset.
    pub fn sign_in(
        &self,
        page: &PageFacts,
        url: &str,
        purpose: crate::domain::user::Purpose,
    ) -> Result<Rendered, String> {
        let reset = purpose == crate::domain::user::Purpose::Reset;
        let subject = if reset {
            format!("Reset your password for the {} console", page.name)
        } else {
            format!("You are invited to the {} status console", page.name)
        };
        let view = MailView {
            subject: &subject,
            page_name: &page.name,
            page_url: &page.url,
            manage_url: None,
            unsubscribe_url: None,
            tenant: None,
            incident: None,
            component: None,
            confirm: None,
            sign_in: Some(SignInMail {
                url: url.to_owned(),
                reset,
                hours: crate::domain::user::link_lifetime().num_hours(),
            }),
            notice: None,
        };
        self.render("signin", &view)
    }
}
