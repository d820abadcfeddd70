//! What a change would tell, and whom, without storing or sending anything: the
//! audience read exactly as the expander reads it (`audience`), and each kind of
//! message rendered exactly as the senders render it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::{
    Notifier, audience,
    compose::{About, TenantFacts},
    hooks,
};
use crate::domain::{Channel, ComponentId, Event, Incident, TenantId, UpdateId};
use crate::store::{Result, components, pages};

/// Stands for the event's sequence number in samples (the event does not exist yet).
const NO_SEQ: i64 = -1;

#[derive(Debug, Serialize, JsonSchema)]
pub struct TenantCount {
    pub id: String,
    pub name: String,
    /// Its contacts that would be told.
    pub contacts: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ComponentCount {
    pub id: String,
    pub name: String,
    pub group: Option<String>,
    /// Page subscribers told because they follow it (everything, it, or its group).
    pub subscribers: u64,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Audience {
    /// Deliveries a send would make.
    pub total: u64,
    /// Per channel: `email`, `webhook`, `slack`, `discord`, `teams`.
    pub channels: BTreeMap<String, u64>,
    /// Page subscribers (people and endpoints).
    pub subscribers: u64,
    /// Subscribers of this incident only.
    pub incident_subscribers: u64,
    /// Herald: the subscribers (of the page or the incident) told by email.
    pub people: u64,
    pub tenants: Vec<TenantCount>,
    /// Each affected component with how many subscribers follow it.
    pub components: Vec<ComponentCount>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MailSample {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Samples {
    /// The mail a subscriber gets (their own manage and unsubscribe links in place).
    pub email: Option<MailSample>,
    /// The mail the first tenant told gets, naming what it runs on.
    pub tenant_email: Option<MailSample>,
    /// Statuspage's webhook payload, with Herald's `herald` key.
    pub webhook: Option<Value>,
    pub slack: Option<Value>,
    pub discord: Option<Value>,
    pub teams: Option<Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Told {
    /// Whether the change notifies anyone (`deliver_notifications`, and an update
    /// posted).
    pub notifies: bool,
    /// The event a send would record (`incident.created`, `incident.updated`, ...).
    pub event: Option<String>,
    pub audience: Audience,
    pub samples: Samples,
}

impl Notifier {
    /// What `incident` (as a change would leave it, its new update first) tells, whom.
    #[tracing::instrument(skip_all)]
    pub async fn preview(&self, incident: &Incident, events: &[Event]) -> Result<Told> {
        let db = self.store.db();
        let event = events.iter().find(|e| {
            e.notifies()
                && matches!(
                    e,
                    Event::IncidentCreated { .. }
                        | Event::IncidentUpdated(_)
                        | Event::IncidentResolved(_)
                        | Event::IncidentReopened(_)
                        | Event::PostmortemPublished { .. }
                )
        });
        let Some(event) = event else {
            return Ok(Told {
                notifies: false,
                event: None,
                audience: Audience::default(),
                samples: Samples::default(),
            });
        };
        let kind = event.to_parts().0;
        let update: Option<UpdateId> = match event {
            Event::IncidentCreated { update_id, .. } => Some(update_id.clone()),
            Event::IncidentUpdated(m) | Event::IncidentResolved(m) | Event::IncidentReopened(m) => {
                Some(m.update_id.clone())
            }
            _ => None,
        };
        let facts = self.page_facts().await?;
        let affected: Vec<ComponentId> =
            incident.components.iter().map(|(c, _)| c.clone()).collect();
        // A new incident has no subscribers of its own yet.
        let own = incidents_own(incident);
        let scope = audience::Scope {
            page_id: self.store.page_id(),
            affected: &affected,
            components: &facts.components,
            incident: own.as_ref(),
        };
        let mut a = Audience::default();
        let mut per_component: BTreeMap<ComponentId, u64> = BTreeMap::new();
        let mut tenants: Vec<TenantCount> = Vec::new();
        let mut first_tenant: Option<(TenantId, TenantFacts)> = None;
        let mut cursor = audience::START.to_owned();
        loop {
            let (list, next) = audience::batch(db, &scope, &cursor).await?;
            for r in list {
                a.total += 1;
                *a.channels.entry(r.channel.as_str().to_owned()).or_default() += 1;
                if r.channel == Channel::Email
                    && matches!(
                        r.kind,
                        crate::domain::RecipientKind::Subscriber
                            | crate::domain::RecipientKind::IncidentSubscriber
                    )
                {
                    a.people += 1;
                }
                match r.kind {
                    crate::domain::RecipientKind::Subscriber => {
                        a.subscribers += 1;
                        for c in &r.follows {
                            *per_component.entry(c.clone()).or_default() += 1;
                        }
                    }
                    crate::domain::RecipientKind::IncidentSubscriber => {
                        a.incident_subscribers += 1;
                    }
                    _ => {}
                }
                if let Some((id, name)) = r.tenant {
                    match tenants.iter_mut().find(|t| t.id == id.as_str()) {
                        Some(t) => t.contacts += 1,
                        None => {
                            if first_tenant.is_none() {
                                first_tenant = Some((
                                    id.clone(),
                                    TenantFacts {
                                        name: name.clone(),
                                        runs_on: r.follows.clone(),
                                    },
                                ));
                            }
                            tenants.push(TenantCount {
                                id: id.to_string(),
                                name,
                                contacts: 1,
                            });
                        }
                    }
                }
            }
            if next == audience::DONE {
                break;
            }
            cursor = next;
        }
        a.tenants = tenants;
        a.components = affected
            .iter()
            .filter_map(|id| facts.components.iter().find(|c| &c.id == id))
            .map(|c| ComponentCount {
                id: c.id.to_string(),
                name: c.name.clone(),
                group: c
                    .group_id
                    .as_ref()
                    .and_then(|g| facts.components.iter().find(|x| &x.id == g))
                    .map(|g| g.name.clone()),
                subscribers: per_component.get(&c.id).copied().unwrap_or(0),
            })
            .collect();

        // The messages, rendered as the senders render them.
        let about = About::Incident {
            incident,
            update: update.as_ref(),
            notice: None,
        };
        let mail = |tenant: Option<(&str, &TenantFacts)>| {
            self.composer
                .event_mail(NO_SEQ, &facts, &about, tenant)
                .ok()
                .map(|r| {
                    let r = if tenant.is_none() {
                        r.personal(
                            &format!("{}/subscriptions/manage", facts.url),
                            &format!("{}/subscriptions/unsubscribe", facts.url),
                        )
                    } else {
                        (*r).clone()
                    };
                    MailSample {
                        subject: r.subject,
                        text: r.text,
                        html: r.html,
                    }
                })
        };
        let email = mail(None);
        let tenant_email = first_tenant
            .as_ref()
            .and_then(|(id, t)| mail(Some((id.as_str(), t))));
        let page = pages::get(db, self.store.page_id()).await?;
        let comps = components::list(db, self.store.page_id()).await?;
        let ctx = crate::render::statuspage::PageCtx::new(&page);
        let index = crate::render::statuspage::ComponentIndex::new(&comps);
        let view = hooks::PageView {
            page: &page,
            ctx: &ctx,
            index: &index,
            components: &comps,
        };
        let told = hooks::Told::Incident {
            incident,
            update: update.as_ref(),
        };
        let unsubscribe = format!("{}/subscriptions/unsubscribe", ctx.url);
        let samples = Samples {
            email,
            tenant_email,
            webhook: Some(hooks::webhook(
                &view,
                &told,
                NO_SEQ,
                &kind,
                &unsubscribe,
                self.clock.now(),
            )),
            slack: Some(hooks::chat(Channel::Slack, &view, &told)),
            discord: Some(hooks::chat(Channel::Discord, &view, &told)),
            teams: Some(hooks::chat(Channel::Teams, &view, &told)),
        };
        Ok(Told {
            notifies: true,
            event: Some(kind),
            audience: a,
            samples,
        })
    }
}

/// The incident whose own subscribers are told: none for one not yet stored.
fn incidents_own(incident: &Incident) -> Option<crate::domain::IncidentId> {
    (incident.id.as_str() != crate::store::incidents::PREVIEW_ID).then(|| incident.id.clone())
}
