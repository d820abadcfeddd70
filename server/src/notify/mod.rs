//! The delivery machinery. Every notifying change writes an outbox row with its event
//! (see `store::Write::record`). Two tasks take it from there:
//!
//! - the expander claims an outbox row with a lease and turns it into one delivery per
//!   recipient and channel (tenants first, then page subscribers in batches, then the
//!   incident's own subscribers), keyed by (event, channel, recipient) so a repeat adds
//!   nothing; its cursor lets a restart go on where it stopped;
//! - the sender claims due deliveries with a lease (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL, so several instances share the work), sends them a few at a time and
//!   records each attempt: delivered, retried later with backoff and jitter, failed for
//!   good, or a dead letter after the retry budget.
//!
//! Both wake when this process writes to the outbox, when the next retry falls due, and
//! at least every second (other instances' writes). Time comes from the injected clock.

pub mod compose;
pub mod email;
pub mod links;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Instant,
};

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::{
    Channel, ComponentId, Event, Incident, IncidentId, RecipientKind, SubscriberId,
    SubscriberState, notify as rules,
};
use crate::metrics::Metrics;
use crate::store::{
    Store, StoreError, components, deliveries, entity, events, incidents, outbox, pages,
    subscribers, tenants,
};
use compose::{About, Composer, PageFacts, TenantFacts};
use email::{Envelope, Mailer};
use links::Links;

/// Recipients read per batch while expanding (memory follows the batch, not the
/// audience).
const BATCH: u64 = 1_000;
/// How often the workers look at the database when nothing woke them.
const POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// The channels this version delivers.
const CHANNELS: &[Channel] = &[Channel::Email];

pub struct Notifier {
    store: Store,
    clock: Clock,
    mailer: Mailer,
    composer: Composer,
    links: Links,
    metrics: Arc<Metrics>,
    concurrency: usize,
    lease: Duration,
    /// Woken when deliveries were made.
    made: Notify,
    /// Unix seconds of the workers' last pass, for `/readyz`.
    heartbeat: AtomicI64,
}

fn recipient_hash(recipient: &str) -> String {
    Sha256::digest(recipient.trim().to_lowercase().as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What an outbox row's event is about, loaded once per expansion or batch.
enum Subject {
    Incident {
        incident: Box<Incident>,
        update: Option<crate::domain::UpdateId>,
    },
    Component {
        id: ComponentId,
        old: crate::domain::ComponentStatus,
        new: crate::domain::ComponentStatus,
        at: DateTime<Utc>,
    },
    Confirmation(SubscriberId),
    /// Nothing to tell (the incident is gone, or the event is not for mail).
    Nothing,
}

impl Notifier {
    pub async fn new(
        settings: &Settings,
        store: Store,
        clock: Clock,
        renderer: Arc<crate::render::templates::Renderer>,
        markdown: Arc<crate::render::markdown::Cache>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Notifier> {
        let page = pages::get(store.db(), store.page_id()).await?;
        let secret = pages::link_secret(store.db(), store.page_id()).await?;
        let mailer = Mailer::new(settings, &page.name, &page.url)?;
        tracing::info!(mail = %mailer.describe, "delivering mail");
        Ok(Notifier {
            links: Links::new(&secret, &page.url),
            composer: Composer::new(renderer, markdown),
            mailer,
            store,
            clock,
            metrics,
            concurrency: settings.delivery_concurrency,
            lease: Duration::seconds(i64::try_from(settings.delivery_lease_secs).unwrap_or(60)),
            made: Notify::new(),
            heartbeat: AtomicI64::new(Utc::now().timestamp()),
        })
    }

    /// Wakes the sender (deliveries were made due by hand).
    pub fn wake(&self) {
        self.made.notify_one();
    }

    pub fn links(&self) -> &Links {
        &self.links
    }

    /// Seconds since the workers last went round their loop.
    pub fn stalled_for(&self) -> i64 {
        Utc::now().timestamp() - self.heartbeat.load(Ordering::Relaxed)
    }

    fn beat(&self) {
        let now = Utc::now().timestamp();
        self.heartbeat.store(now, Ordering::Relaxed);
        self.metrics.heartbeat.set(now);
    }

    /// Starts the expander and the sender. On SQLite (one instance) what was in flight
    /// when the process stopped is due again at once.
    pub async fn start(self: &Arc<Self>) {
        if self.store.backend() == sea_orm::DbBackend::Sqlite {
            match deliveries::release_all(self.store.db(), self.clock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deliveries = n, "resuming deliveries that were in flight"),
                Err(e) => tracing::error!(error = %e, "releasing deliveries"),
            }
        }
        let me = self.clone();
        tokio::spawn(async move { me.expander().await });
        let me = self.clone();
        tokio::spawn(async move { me.sender().await });
    }

    async fn expander(self: Arc<Self>) {
        let written = self.store.outbox_written();
        loop {
            self.beat();
            loop {
                let now = self.clock.now();
                match outbox::claim(self.store.db(), now, self.lease).await {
                    Ok(Some(row)) => {
                        if let Err(e) = self.expand(&row).await {
                            tracing::error!(error = %e, outbox = row.id, event = row.event_seq, "expanding a notification; retrying after its lease");
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "reading the outbox");
                        break;
                    }
                }
            }
            tokio::select! {
                () = written.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    async fn page_facts(&self) -> Result<PageFacts, StoreError> {
        let db = self.store.db();
        let page = pages::get(db, self.store.page_id()).await?;
        let components = components::list(db, self.store.page_id()).await?;
        Ok(PageFacts {
            tz: page.time_zone.parse().unwrap_or(chrono_tz::UTC),
            name: page.name,
            url: page.url.trim_end_matches('/').to_owned(),
            components,
        })
    }

    async fn subject(&self, seq: i64) -> Result<Subject, StoreError> {
        let db = self.store.db();
        let Some(event) = events::get(db, seq)
            .await?
            .and_then(|r| r.event.map(|e| (e, r.created_at)))
        else {
            return Ok(Subject::Nothing);
        };
        let (event, at) = event;
        let incident = |id: &IncidentId, update: Option<crate::domain::UpdateId>| {
            let id = id.clone();
            async move {
                match incidents::get(db, &id).await {
                    Ok(i) => Ok(Subject::Incident {
                        incident: Box::new(i),
                        update,
                    }),
                    Err(StoreError::NotFound { .. }) => Ok(Subject::Nothing),
                    Err(e) => Err(e),
                }
            }
        };
        match event {
            Event::IncidentCreated {
                incident_id,
                update_id,
                ..
            } => incident(&incident_id, Some(update_id)).await,
            Event::IncidentUpdated(m) | Event::IncidentResolved(m) | Event::IncidentReopened(m) => {
                incident(&m.incident_id, Some(m.update_id)).await
            }
            Event::PostmortemPublished { incident_id, .. } => incident(&incident_id, None).await,
            Event::ComponentStatusChanged {
                component_id,
                old_status,
                new_status,
                incident_id: None,
                ..
            } => Ok(Subject::Component {
                id: component_id,
                old: old_status,
                new: new_status,
                at,
            }),
            Event::ConfirmationRequested { subscriber_id } => {
                Ok(Subject::Confirmation(subscriber_id))
            }
            _ => Ok(Subject::Nothing),
        }
    }

    fn message_id(&self, seq: i64, subject: &Subject, recipient: &str) -> String {
        let host = self.mailer.id_host();
        let r = recipient_hash(recipient);
        match subject {
            Subject::Incident { incident, update } => match update {
                Some(u) => format!("<{}.{u}.{r}@{host}>", incident.id),
                None => format!("<{}.pm{seq}.{r}@{host}>", incident.id),
            },
            Subject::Component { id, .. } => format!("<component.{id}.{seq}.{r}@{host}>"),
            Subject::Confirmation(s) => format!("<confirm.{s}.{seq}@{host}>"),
            Subject::Nothing => format!("<{seq}.{r}@{host}>"),
        }
    }

    /// The first message of an incident's thread to `recipient`.
    fn thread(&self, incident: &Incident, recipient: &str) -> Option<String> {
        let first = incident.updates.iter().min_by_key(|u| u.ordinal)?;
        Some(format!(
            "<{}.{}.{}@{}>",
            incident.id,
            first.id,
            recipient_hash(recipient),
            self.mailer.id_host()
        ))
    }

    /// Turns one outbox row into deliveries, batch by batch.
    #[tracing::instrument(skip_all, fields(event = row.event_seq))]
    async fn expand(&self, row: &entity::outbox::Model) -> Result<(), StoreError> {
        let db = self.store.db();
        let seq = row.event_seq;
        let subject = self.subject(seq).await?;
        let page = self.page_facts().await?;
        let group_of = |id: &ComponentId| {
            page.components
                .iter()
                .find(|c| &c.id == id)
                .and_then(|c| c.group_id.as_ref())
        };
        let (incident_id, update_id, affected): (
            Option<IncidentId>,
            Option<crate::domain::UpdateId>,
            Vec<ComponentId>,
        ) = match &subject {
            Subject::Incident { incident, update } => (
                Some(incident.id.clone()),
                update.clone(),
                incident.components.iter().map(|(c, _)| c.clone()).collect(),
            ),
            Subject::Component { id, .. } => (None, None, vec![id.clone()]),
            _ => (None, None, Vec::new()),
        };
        let delivery = |recipient: &str,
                        kind: RecipientKind,
                        subscriber: Option<SubscriberId>,
                        tenant: Option<crate::domain::TenantId>| {
            deliveries::NewDelivery {
                event_seq: seq,
                incident_id: incident_id.clone(),
                update_id: update_id.clone(),
                channel: Channel::Email,
                recipient: recipient.to_owned(),
                recipient_kind: kind,
                subscriber_id: subscriber,
                tenant_id: tenant,
                message_id: self.message_id(seq, &subject, recipient),
            }
        };
        let mut cursor = row.cursor.clone().unwrap_or_else(|| "tenants:".to_owned());
        let mut made = 0_u64;
        loop {
            let (phase, after) = cursor.split_once(':').unwrap_or(("done", ""));
            let (batch, next): (Vec<deliveries::NewDelivery>, String) = match (phase, &subject) {
                ("tenants", Subject::Incident { .. } | Subject::Component { .. }) => {
                    let after = (!after.is_empty()).then(|| crate::domain::TenantId::from(after));
                    let list =
                        tenants::batch(db, self.store.page_id(), after.as_ref(), BATCH).await?;
                    let next = match list.last() {
                        Some(t) if list.len() as u64 == BATCH => format!("tenants:{}", t.id),
                        _ => "subscribers:".to_owned(),
                    };
                    let batch = list
                        .iter()
                        .filter(|t| rules::concerns(&t.runs_on, &affected, group_of))
                        .flat_map(|t| {
                            t.contacts
                                .iter()
                                .filter(|c| c.kind == Channel::Email)
                                .map(|c| {
                                    delivery(
                                        &c.address,
                                        RecipientKind::Tenant,
                                        None,
                                        Some(t.id.clone()),
                                    )
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect();
                    (batch, next)
                }
                ("subscribers", Subject::Incident { .. } | Subject::Component { .. }) => {
                    let after = (!after.is_empty()).then(|| SubscriberId::from(after));
                    let list = subscribers::active_batch(
                        db,
                        self.store.page_id(),
                        CHANNELS,
                        after.as_ref(),
                        BATCH,
                    )
                    .await?;
                    let next = match list.last() {
                        Some(s) if list.len() as u64 == BATCH => format!("subscribers:{}", s.id()),
                        _ => "incident:".to_owned(),
                    };
                    let batch = list
                        .iter()
                        .filter(|s| rules::follows(&s.components, &affected, group_of))
                        .map(|s| {
                            delivery(
                                s.address(),
                                RecipientKind::Subscriber,
                                Some(s.id().clone()),
                                None,
                            )
                        })
                        .collect();
                    (batch, next)
                }
                ("incident", Subject::Incident { incident, .. }) => {
                    let list = subscribers::of_incident(db, &incident.id, CHANNELS).await?;
                    let batch = list
                        .iter()
                        .map(|s| {
                            delivery(
                                s.address(),
                                RecipientKind::IncidentSubscriber,
                                Some(s.id().clone()),
                                None,
                            )
                        })
                        .collect();
                    (batch, "done:".to_owned())
                }
                ("tenants", Subject::Confirmation(id)) => {
                    let batch = match subscribers::get(db, id).await {
                        Ok(s)
                            if s.row.state == SubscriberState::Unconfirmed
                                && s.row.mode == Channel::Email =>
                        {
                            vec![delivery(
                                s.address(),
                                RecipientKind::Confirmation,
                                Some(id.clone()),
                                None,
                            )]
                        }
                        Ok(_) | Err(StoreError::NotFound { .. }) => Vec::new(),
                        Err(e) => return Err(e),
                    };
                    (batch, "done:".to_owned())
                }
                _ => (Vec::new(), "done:".to_owned()),
            };
            let txn = sea_orm::TransactionTrait::begin(db).await?;
            made += deliveries::insert(&txn, batch, self.clock.now()).await?;
            if next == "done:" {
                outbox::done(&txn, row.id, self.clock.now()).await?;
            } else {
                outbox::advance(&txn, row.id, &next, self.clock.now() + self.lease).await?;
            }
            txn.commit().await?;
            self.made.notify_one();
            if next == "done:" {
                break;
            }
            cursor = next;
        }
        tracing::debug!(deliveries = made, "expanded");
        Ok(())
    }

    async fn sender(self: Arc<Self>) {
        loop {
            self.beat();
            let now = self.clock.now();
            let batch = deliveries::claim(
                self.store.db(),
                CHANNELS,
                now,
                self.lease,
                (self.concurrency * 4) as u64,
            )
            .await;
            match batch {
                Ok(b) if !b.is_empty() => {
                    if let Err(e) = self.send_batch(b).await {
                        tracing::error!(error = %e, "recording deliveries; they are retried after their lease");
                        tokio::time::sleep(POLL).await;
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "claiming deliveries"),
            }
            let due = deliveries::next_due(self.store.db(), CHANNELS)
                .await
                .ok()
                .flatten();
            let clock = self.clock.clone();
            tokio::select! {
                () = self.made.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                () = async move {
                    match due {
                        Some(t) => clock.sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }

    #[tracing::instrument(skip_all, fields(deliveries = batch.len()))]
    async fn send_batch(&self, batch: Vec<entity::deliveries::Model>) -> Result<(), StoreError> {
        let db = self.store.db();
        let page = self.page_facts().await?;
        let ids: Vec<SubscriberId> = batch
            .iter()
            .filter_map(|d| d.subscriber_id.clone())
            .collect();
        let subs = subscribers::rows(db, &ids).await?;
        let tenant_ids: Vec<crate::domain::TenantId> =
            batch.iter().filter_map(|d| d.tenant_id.clone()).collect();
        let mut tenant_facts: HashMap<crate::domain::TenantId, TenantFacts> = HashMap::new();
        for id in tenant_ids {
            if tenant_facts.contains_key(&id) {
                continue;
            }
            match tenants::get(db, &id).await {
                Ok(t) => {
                    tenant_facts.insert(
                        id,
                        TenantFacts {
                            name: t.name,
                            runs_on: t.runs_on,
                        },
                    );
                }
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut subjects: HashMap<i64, Subject> = HashMap::new();
        for d in &batch {
            if let std::collections::hash_map::Entry::Vacant(slot) = subjects.entry(d.event_seq) {
                slot.insert(self.subject(d.event_seq).await?);
            }
        }
        let now = self.clock.now();
        let mut prepared = Vec::with_capacity(batch.len());
        for d in batch {
            let outcome_or_mail = self.prepare(&d, &page, &subjects, &subs, &tenant_facts, now);
            prepared.push((d, outcome_or_mail));
        }
        let attempts: Vec<deliveries::Attempt> = futures_util::stream::iter(prepared)
            .map(|(d, prepared)| async move {
                let started = Instant::now();
                let outcome = match prepared {
                    Err(o) => o,
                    Ok(message) => self.mailer.send(message).await,
                };
                deliveries::Attempt {
                    delivery: d,
                    outcome,
                    duration_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
                }
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        for a in &attempts {
            if let deliveries::Outcome::Temporary(e) | deliveries::Outcome::Permanent(e) =
                &a.outcome
            {
                tracing::warn!(delivery = a.delivery.id, recipient = %a.delivery.recipient, error = %e, "delivery failed");
            }
        }
        let jitter: Vec<f64> = {
            let mut rng = rand::rng();
            (0..attempts.len()).map(|_| rng.random::<f64>()).collect()
        };
        let mut draws = jitter.into_iter();
        let done = deliveries::finish(db, &attempts, self.clock.now(), move || {
            draws.next().unwrap_or(0.5)
        })
        .await?;
        let m = &self.metrics.deliveries;
        let ch = Channel::Email.as_str();
        m.with_label_values(&[ch, "delivered"])
            .inc_by(done.delivered);
        m.with_label_values(&[ch, "retrying"]).inc_by(done.retrying);
        m.with_label_values(&[ch, "failed"]).inc_by(done.failed);
        m.with_label_values(&[ch, "dead"]).inc_by(done.dead);
        m.with_label_values(&[ch, "cancelled"])
            .inc_by(done.cancelled);
        self.metrics
            .retries
            .with_label_values(&[ch])
            .inc_by(done.retrying);
        for q in &done.quarantined {
            tracing::warn!(subscriber = %q, "subscriber quarantined after repeated permanent failures");
        }
        Ok(())
    }

    /// The message for one delivery, or why it is not sent.
    fn prepare(
        &self,
        d: &entity::deliveries::Model,
        page: &PageFacts,
        subjects: &HashMap<i64, Subject>,
        subs: &HashMap<SubscriberId, entity::subscribers::Model>,
        tenants_: &HashMap<crate::domain::TenantId, TenantFacts>,
        now: DateTime<Utc>,
    ) -> Result<lettre::Message, deliveries::Outcome> {
        use deliveries::Outcome::Cancelled;
        let sub = d.subscriber_id.as_ref().and_then(|id| subs.get(id));
        let wanted = match d.recipient_kind {
            RecipientKind::Confirmation => SubscriberState::Unconfirmed,
            _ => SubscriberState::Active,
        };
        if d.subscriber_id.is_some() && sub.is_none_or(|s| s.state != wanted) {
            return Err(Cancelled(match sub {
                Some(s) => format!("the subscriber is {}", s.state),
                None => "the subscriber is gone".to_owned(),
            }));
        }
        let Some(subject) = subjects.get(&d.event_seq) else {
            return Err(Cancelled("the event is gone".into()));
        };
        let tenant = match (&d.tenant_id, d.recipient_kind) {
            (Some(id), RecipientKind::Tenant) => match tenants_.get(id) {
                Some(t) => Some((id.as_str(), t)),
                None => return Err(Cancelled("the tenant is gone".into())),
            },
            _ => None,
        };
        let (rendered, thread) = match subject {
            Subject::Nothing => return Err(Cancelled("nothing to tell any more".into())),
            Subject::Confirmation(_) => {
                let Some(s) = sub else {
                    return Err(Cancelled("the subscriber is gone".into()));
                };
                let follows: Vec<ComponentId> = Vec::new();
                let url = self.links.confirm_url(s, now);
                match self.composer.confirmation(page, &url, &follows) {
                    Ok(r) => (r, None),
                    Err(e) => {
                        return Err(deliveries::Outcome::Permanent(format!("rendering: {e}")));
                    }
                }
            }
            Subject::Incident { incident, update } => {
                let about = About::Incident {
                    incident,
                    update: update.as_ref(),
                };
                match self.composer.event_mail(d.event_seq, page, &about, tenant) {
                    Ok(r) => ((*r).clone(), self.thread(incident, &d.recipient)),
                    Err(e) => {
                        return Err(deliveries::Outcome::Permanent(format!("rendering: {e}")));
                    }
                }
            }
            Subject::Component { id, old, new, at } => {
                let about = About::Component {
                    id,
                    old: *old,
                    new: *new,
                    at: *at,
                };
                match self.composer.event_mail(d.event_seq, page, &about, tenant) {
                    Ok(r) => ((*r).clone(), None),
                    Err(e) => {
                        return Err(deliveries::Outcome::Permanent(format!("rendering: {e}")));
                    }
                }
            }
        };
        let (rendered, unsubscribe) = match (sub, d.recipient_kind) {
            (Some(s), RecipientKind::Subscriber | RecipientKind::IncidentSubscriber) => {
                let manage = self.links.manage_url(s);
                let unsubscribe = self.links.unsubscribe_url(s);
                (rendered.personal(&manage, &unsubscribe), Some(unsubscribe))
            }
            _ => (rendered, None),
        };
        self.mailer
            .message(&Envelope {
                to: &d.recipient,
                rendered: &rendered,
                message_id: &d.message_id,
                thread: thread.as_deref(),
                unsubscribe: unsubscribe.as_deref(),
            })
            .map_err(deliveries::Outcome::Permanent)
    }
}
