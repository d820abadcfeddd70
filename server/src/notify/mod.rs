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

pub mod audience;
pub mod compose;
pub mod email;
pub mod hooks;
pub mod links;
pub mod maintenance;
pub mod preview;
pub mod promises;
pub mod webhook;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Instant,
};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::{
    Channel, ComponentId, Event, Incident, IncidentId, RecipientKind, SubscriberId, SubscriberState,
};
use crate::metrics::Metrics;
use crate::store::{
    Store, StoreError, components, deliveries, entity, events, incidents, outbox, pages,
    subscribers, tenants,
};
use compose::{About, Composer, PageFacts, TenantFacts};
use email::{Envelope, Mailer};
use links::Links;

/// How often the workers look at the database when nothing woke them.
const POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// The channels the mail sender delivers (endpoints have their own sender).
const CHANNELS: &[Channel] = &[Channel::Email];
/// Deliveries a sender holds at most between claim and record, per unit of concurrency.
const PIPELINE: usize = 16;
/// The most deliveries claimed by one statement.
const CLAIM_MAX: usize = 512;
/// The most attempts recorded by one transaction.
const FINISH_MAX: usize = 512;

/// The two senders: mail, and webhook and chat endpoints (one in flight per endpoint, in
/// event order, which their claim sees to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Mail,
    Hooks,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Lane::Mail => "mail",
            Lane::Hooks => "endpoints",
        }
    }
}

/// What a claimed mail batch needs, read once for the batch.
struct MailContext {
    page: PageFacts,
    subjects: HashMap<i64, Subject>,
    subs: HashMap<SubscriberId, entity::subscribers::Model>,
    tenants: HashMap<crate::domain::TenantId, TenantFacts>,
    /// The sign-in link made for each sign-in delivery of the batch (by delivery id):
    /// made as the mail goes out, so no token waits in the database.
    sign_in: HashMap<i64, String>,
    now: DateTime<Utc>,
}

/// What a claimed endpoint batch needs, read once for the batch.
struct HookContext {
    page: crate::store::pages::Page,
    components: Vec<crate::domain::Component>,
    ctx: crate::render::statuspage::PageCtx,
    subjects: HashMap<i64, (Subject, String)>,
    subs: HashMap<SubscriberId, entity::subscribers::Model>,
    tenant_secrets: HashMap<i64, Option<String>>,
    /// What every endpoint of a channel is told of an event, rendered once for the batch.
    rendered: std::sync::Mutex<Rendered>,
}

/// Rendered bodies by event and channel.
type Rendered = HashMap<(i64, Channel), Arc<[u8]>>;

impl HookContext {
    fn view<'a>(
        &'a self,
        index: &'a crate::render::statuspage::ComponentIndex<'a>,
    ) -> hooks::PageView<'a> {
        hooks::PageView {
            page: &self.page,
            ctx: &self.ctx,
            index,
            components: &self.components,
        }
    }

    /// The bytes `render` makes for an event and channel, made once for the batch.
    fn rendered(
        &self,
        seq: i64,
        channel: Channel,
        render: impl FnOnce(&hooks::PageView<'_>) -> serde_json::Result<Vec<u8>>,
    ) -> serde_json::Result<Arc<[u8]>> {
        let cached = self
            .rendered
            .lock()
            .ok()
            .and_then(|m| m.get(&(seq, channel)).cloned());
        if let Some(bytes) = cached {
            return Ok(bytes);
        }
        let index = crate::render::statuspage::ComponentIndex::new(&self.components);
        let bytes: Arc<[u8]> = render(&self.view(&index))?.into();
        if let Ok(mut m) = self.rendered.lock() {
            m.insert((seq, channel), bytes.clone());
        }
        Ok(bytes)
    }
}

enum Context {
    Mail(Box<MailContext>),
    Hooks(Box<HookContext>),
}

/// A claimed delivery on its way to a sending task, holding its room in the lane.
struct Job {
    delivery: entity::deliveries::Model,
    context: Arc<Context>,
    permit: OwnedSemaphorePermit,
}

/// An attempt on its way to be recorded, still holding its room and its place among the
/// sent but unrecorded.
type Done = (
    deliveries::Attempt,
    OwnedSemaphorePermit,
    OwnedSemaphorePermit,
);

/// Deliveries sent but not yet recorded, at most, per unit of concurrency: what a crash
/// would send again (as before the pipeline, one claimed batch).
const UNRECORDED: usize = 4;

pub struct Notifier {
    store: Store,
    clock: Clock,
    mailer: Mailer,
    hooks: webhook::Hooks,
    composer: Composer,
    links: Links,
    metrics: Arc<Metrics>,
    concurrency: usize,
    lease: Duration,
    /// Woken when deliveries were made (the mail sender).
    made: Notify,
    /// The same, for the endpoint sender.
    hooks_made: Notify,
    /// Unix seconds of the workers' last pass, for `/readyz`.
    heartbeat: AtomicI64,
    /// The operator's responders (`HERALD_RESPONDER_EMAILS`, `..._WEBHOOK_URL`), for
    /// pages that name none.
    responders: Vec<String>,
    responder_hook: Option<String>,
    /// Set when the process stops: the workers finish what they hold and take no more.
    halted: AtomicBool,
}

fn recipient_hash(recipient: &str) -> String {
    Sha256::digest(recipient.trim().to_lowercase().as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The mail telling an endpoint's owner that it is failing, or paused.
fn owner_notice(
    page: &PageFacts,
    s: &entity::subscribers::Model,
    paused: bool,
) -> compose::Rendered {
    let url = s.endpoint.as_deref().unwrap_or_default();
    let (subject, what) = if paused {
        (
            format!("[{}] Your {} endpoint is paused", page.name, s.mode),
            format!(
                "Herald could not deliver to {url} for {} days, so it has paused it. \
                 Nothing is lost: the notifications wait and are sent in order once the \
                 endpoint is re-enabled (POST /v1/pages/{{page_id}}/subscribers/reactivate \
                 with the subscriber id {}).",
                crate::domain::webhook::pause_after().num_days(),
                s.id
            ),
        )
    } else {
        (
            format!("[{}] Your {} endpoint is failing", page.name, s.mode),
            format!(
                "Herald has not been able to deliver to {url} for a while. It keeps \
                 retrying, in order, for {} days before pausing the endpoint; the delivery \
                 ledger shows each attempt and what your endpoint answered.",
                crate::domain::webhook::pause_after().num_days()
            ),
        )
    };
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    compose::Rendered {
        html: format!(
            "<!doctype html><html><body><p>{}</p><p><a href=\"{}\">{}</a></p></body></html>",
            esc(&what),
            esc(&page.url),
            esc(&page.name)
        ),
        text: format!("{what}\n\n{}\n", page.url),
        subject,
    }
}

/// What an outbox row's event is about, loaded once per expansion or batch.
enum Subject {
    Incident {
        incident: Box<Incident>,
        update: Option<crate::domain::UpdateId>,
        /// Said first (a maintenance reminder, a reschedule), over the update it shows.
        notice: Option<compose::Notice>,
    },
    Component {
        id: ComponentId,
        old: crate::domain::ComponentStatus,
        new: crate::domain::ComponentStatus,
        at: DateTime<Utc>,
    },
    Confirmation(SubscriberId),
    /// A console user is sent a one-time sign-in link.
    SignIn {
        user: crate::domain::UserId,
        purpose: crate::domain::user::Purpose,
    },
    /// A subscriber's endpoint is failing (or was paused): its owner is told.
    EndpointFailing(SubscriberId, bool),
    /// A maintenance runs past its window: the responders are told.
    Overrun(Box<Incident>),
    /// A promised update falls due: the responders are reminded.
    Reminder {
        incident: Box<Incident>,
        due_at: DateTime<Utc>,
    },
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
        let allow = crate::domain::webhook::parse_allow(&settings.webhook_allow)
            .map_err(|e| anyhow::anyhow!(e))?;
        let hooks = webhook::Hooks::new(allow, settings.delivery_concurrency)?;
        Ok(Notifier {
            hooks,
            links: Links::new(&secret, &page.url),
            composer: Composer::new(renderer, markdown),
            mailer,
            store,
            clock,
            metrics,
            concurrency: settings.delivery_concurrency,
            lease: Duration::seconds(i64::try_from(settings.delivery_lease_secs).unwrap_or(60)),
            made: Notify::new(),
            hooks_made: Notify::new(),
            heartbeat: AtomicI64::new(Utc::now().timestamp()),
            responders: settings.responders()?,
            responder_hook: settings.responder_webhook_url.clone(),
            halted: AtomicBool::new(false),
        })
    }

    /// Stops the workers: each finishes what it holds and takes nothing more (what is
    /// left is taken up by the next start, or by another instance).
    pub fn halt(&self) {
        self.halted.store(true, Ordering::SeqCst);
        self.wake();
    }

    fn halted(&self) -> bool {
        self.halted.load(Ordering::SeqCst)
    }

    /// How the clock-driven workers (reminders, maintenance) wait between passes: until
    /// `next` on the injected clock, a write this process sees (`head`), or `POLL` for
    /// other instances' writes, whichever comes first.
    async fn idle(
        &self,
        head: &mut tokio::sync::watch::Receiver<i64>,
        next: Option<DateTime<Utc>>,
    ) {
        let clock = self.clock.clone();
        tokio::select! {
            r = head.changed() => {
                if r.is_err() {
                    tokio::time::sleep(POLL).await;
                }
            }
            () = tokio::time::sleep(POLL) => {}
            () = async move {
                match next {
                    Some(t) => clock.sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }

    /// Wakes the sender (deliveries were made due by hand).
    pub fn wake(&self) {
        self.made.notify_one();
        self.hooks_made.notify_one();
    }

    pub fn links(&self) -> &Links {
        &self.links
    }

    /// The address ranges endpoints may resolve to although they are not public.
    pub fn webhook_allow(&self) -> &[ipnet::IpNet] {
        self.hooks.allow()
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
        tokio::spawn(self.clone().lane(Lane::Mail));
        tokio::spawn(self.clone().lane(Lane::Hooks));
        let me = self.clone();
        tokio::spawn(promises::run(me));
        let me = self.clone();
        tokio::spawn(maintenance::run(me));
    }

    async fn expander(self: Arc<Self>) {
        let written = self.store.outbox_written();
        loop {
            if self.halted() {
                return;
            }
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
                        notice: None,
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
            Event::SignInRequested { user_id, purpose } => Ok(Subject::SignIn {
                user: user_id,
                purpose: crate::domain::user::Purpose::parse(&purpose),
            }),
            Event::EndpointFailing {
                subscriber_id,
                paused,
            } => Ok(Subject::EndpointFailing(subscriber_id, paused)),
            Event::MaintenanceRescheduled {
                incident_id,
                from_for,
                from_until,
                ..
            } => {
                let tz = self.page_facts().await?.tz;
                Ok(maintenance::rescheduled(db, &incident_id, (from_for, from_until), tz).await?)
            }
            Event::MaintenanceReminder {
                incident_id,
                starts_at,
                minutes,
            } => {
                let tz = self.page_facts().await?.tz;
                Ok(maintenance::reminder(db, &incident_id, starts_at, minutes, tz).await?)
            }
            Event::MaintenancePublished { incident_id } => {
                // Told as its announcement was: the opening update.
                match incidents::get(db, &incident_id).await {
                    Ok(i) => Ok(Subject::Incident {
                        update: i
                            .updates
                            .iter()
                            .min_by_key(|u| u.ordinal)
                            .map(|u| u.id.clone()),
                        incident: Box::new(i),
                        notice: None,
                    }),
                    Err(StoreError::NotFound { .. }) => Ok(Subject::Nothing),
                    Err(e) => Err(e),
                }
            }
            Event::MaintenanceOverrun { incident_id } => {
                match incidents::get(db, &incident_id).await {
                    Ok(i) => Ok(Subject::Overrun(Box::new(i))),
                    Err(StoreError::NotFound { .. }) => Ok(Subject::Nothing),
                    Err(e) => Err(e),
                }
            }
            Event::PromiseReminder {
                incident_id,
                due_at,
            } => match incidents::get(db, &incident_id).await {
                Ok(i) => Ok(Subject::Reminder {
                    incident: Box::new(i),
                    due_at,
                }),
                Err(StoreError::NotFound { .. }) => Ok(Subject::Nothing),
                Err(e) => Err(e),
            },
            _ => Ok(Subject::Nothing),
        }
    }

    fn message_id(&self, seq: i64, subject: &Subject, channel: Channel, recipient: &str) -> String {
        let host = self.mailer.id_host();
        let r = recipient_hash(recipient);
        if channel != Channel::Email {
            // Standard Webhooks' `webhook-id`: the same for an event and endpoint, however
            // often it is tried.
            return format!("msg_{seq}_{r}");
        }
        match subject {
            Subject::Incident {
                incident, notice, ..
            } if notice.is_some() => format!("<{}.n{seq}.{r}@{host}>", incident.id),
            Subject::Incident {
                incident, update, ..
            } => match update {
                Some(u) => format!("<{}.{u}.{r}@{host}>", incident.id),
                None => format!("<{}.pm{seq}.{r}@{host}>", incident.id),
            },
            Subject::Overrun(incident) => format!("<overrun.{}.{seq}.{r}@{host}>", incident.id),
            Subject::Component { id, .. } => format!("<component.{id}.{seq}.{r}@{host}>"),
            Subject::Confirmation(s) => format!("<confirm.{s}.{seq}@{host}>"),
            Subject::SignIn { user, .. } => format!("<signin.{user}.{seq}@{host}>"),
            Subject::EndpointFailing(s, _) => format!("<endpoint.{s}.{seq}@{host}>"),
            Subject::Reminder { incident, .. } => {
                format!("<reminder.{}.{seq}.{r}@{host}>", incident.id)
            }
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
        let (incident_id, update_id, affected): (
            Option<IncidentId>,
            Option<crate::domain::UpdateId>,
            Vec<ComponentId>,
        ) = match &subject {
            Subject::Incident {
                incident, update, ..
            } => (
                Some(incident.id.clone()),
                update.clone(),
                incident.components.iter().map(|(c, _)| c.clone()).collect(),
            ),
            Subject::Component { id, .. } => (None, None, vec![id.clone()]),
            Subject::Reminder { incident, .. } | Subject::Overrun(incident) => {
                (Some(incident.id.clone()), None, Vec::new())
            }
            _ => (None, None, Vec::new()),
        };
        let delivery = |channel: Channel,
                        recipient: &str,
                        kind: RecipientKind,
                        subscriber: Option<SubscriberId>,
                        tenant: Option<crate::domain::TenantId>| {
            deliveries::NewDelivery {
                event_seq: seq,
                incident_id: incident_id.clone(),
                update_id: update_id.clone(),
                channel,
                recipient: recipient.to_owned(),
                recipient_kind: kind,
                subscriber_id: subscriber,
                tenant_id: tenant,
                message_id: self.message_id(seq, &subject, channel, recipient),
            }
        };
        let mut cursor = row
            .cursor
            .clone()
            .unwrap_or_else(|| audience::START.to_owned());
        let mut made = 0_u64;
        loop {
            let (phase, _) = cursor.split_once(':').unwrap_or(("done", ""));
            let (batch, next): (Vec<deliveries::NewDelivery>, String) = match (phase, &subject) {
                (_, Subject::Incident { .. } | Subject::Component { .. }) => {
                    let scope = audience::Scope {
                        page_id: self.store.page_id(),
                        affected: &affected,
                        components: &page.components,
                        incident: incident_id.as_ref(),
                    };
                    let (list, next) = audience::batch(db, &scope, &cursor).await?;
                    let batch = list
                        .into_iter()
                        .map(|r| {
                            delivery(
                                r.channel,
                                &r.address,
                                r.kind,
                                r.subscriber,
                                r.tenant.map(|(id, _)| id),
                            )
                        })
                        .collect();
                    (batch, next)
                }
                ("tenants", Subject::Confirmation(id)) => {
                    let batch = match subscribers::get(db, id).await {
                        Ok(s)
                            if s.row.state == SubscriberState::Unconfirmed
                                && s.row.mode == Channel::Email =>
                        {
                            vec![delivery(
                                Channel::Email,
                                s.address(),
                                RecipientKind::Confirmation,
                                Some(id.clone()),
                                None,
                            )]
                        }
                        Ok(_) | Err(StoreError::NotFound { .. }) => Vec::new(),
                        Err(e) => return Err(e),
                    };
                    (batch, audience::DONE.to_owned())
                }
                ("tenants", Subject::SignIn { user, .. }) => {
                    let batch = match crate::store::users::row(db, user).await {
                        Ok(u) if u.disabled_at.is_none() => vec![delivery(
                            Channel::Email,
                            &u.email,
                            RecipientKind::User,
                            None,
                            None,
                        )],
                        Ok(_) | Err(StoreError::NotFound { .. }) => Vec::new(),
                        Err(e) => return Err(e),
                    };
                    (batch, audience::DONE.to_owned())
                }
                ("tenants", Subject::Reminder { .. } | Subject::Overrun(_)) => {
                    let page = pages::get(db, self.store.page_id()).await?;
                    let batch = promises::responders(
                        &page,
                        &self.responders,
                        self.responder_hook.as_deref(),
                    )
                    .iter()
                    .map(|(channel, address)| {
                        delivery(*channel, address, RecipientKind::Responder, None, None)
                    })
                    .collect();
                    (batch, audience::DONE.to_owned())
                }
                ("tenants", Subject::EndpointFailing(id, _)) => {
                    let batch = match subscribers::get(db, id).await {
                        Ok(s) => match s.row.email.as_deref() {
                            Some(owner) if s.row.mode != Channel::Email => vec![delivery(
                                Channel::Email,
                                owner,
                                RecipientKind::Owner,
                                Some(id.clone()),
                                None,
                            )],
                            _ => Vec::new(),
                        },
                        Err(StoreError::NotFound { .. }) => Vec::new(),
                        Err(e) => return Err(e),
                    };
                    (batch, audience::DONE.to_owned())
                }
                _ => (Vec::new(), audience::DONE.to_owned()),
            };
            let txn = sea_orm::TransactionTrait::begin(db).await?;
            made += deliveries::insert(&txn, batch, self.clock.now()).await?;
            if next == audience::DONE {
                outbox::done(&txn, row.id, self.clock.now()).await?;
            } else {
                outbox::advance(&txn, row.id, &next, self.clock.now() + self.lease).await?;
            }
            txn.commit().await?;
            self.made.notify_one();
            self.hooks_made.notify_one();
            if next == audience::DONE {
                break;
            }
            cursor = next;
        }
        tracing::debug!(deliveries = made, "expanded");
        Ok(())
    }

    /// A sender (one per lane): a claimer, a dispatcher and a recorder joined by channels,
    /// so the next claim and the last results' writes overlap the sending and no batch
    /// waits for its slowest member. At most `room` deliveries are claimed and not yet
    /// recorded; at most `concurrency` are being sent.
    async fn lane(self: Arc<Self>, lane: Lane) {
        let held = self.pipeline(lane);
        let room = Arc::new(Semaphore::new(held));
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>(held);
        let (done_tx, done_rx) = mpsc::unbounded_channel::<Done>();
        tokio::spawn(self.clone().dispatch(lane, jobs_rx, done_tx));
        tokio::spawn(self.clone().record(lane, done_rx));
        self.claim_loop(lane, room, held, jobs_tx).await;
    }

    /// How many deliveries a lane holds at most between claim and record: enough to keep
    /// `concurrency` sends busy while claims and writes are under way, and for mail no
    /// more than the pace limit lets out within half a lease.
    fn pipeline(&self, lane: Lane) -> usize {
        let busy = self.sending(lane) * PIPELINE;
        match lane {
            Lane::Mail => {
                let paced =
                    u64::from(self.mailer.rate()) * (self.lease.num_seconds().max(2) as u64) / 2;
                busy.min(usize::try_from(paced).unwrap_or(usize::MAX))
                    .max(self.sending(lane))
            }
            Lane::Hooks => busy,
        }
    }

    /// Deliveries a lane sends at once: for mail no more than its SMTP connections can
    /// carry (two waiting per connection, so one is ready when another ends), since
    /// more would only wait in memory; for endpoints the setting.
    fn sending(&self, lane: Lane) -> usize {
        match lane {
            Lane::Mail => self.concurrency.min(self.mailer.connections() * 2),
            Lane::Hooks => self.concurrency,
        }
        .max(1)
    }

    fn woken(&self, lane: Lane) -> &Notify {
        match lane {
            Lane::Mail => &self.made,
            Lane::Hooks => &self.hooks_made,
        }
    }

    /// Claims what is due while there is room, loads what the batch needs once, and
    /// hands its deliveries on one by one.
    async fn claim_loop(
        &self,
        lane: Lane,
        room: Arc<Semaphore>,
        held: usize,
        jobs: mpsc::Sender<Job>,
    ) {
        let mut full = false;
        loop {
            if self.halted() {
                return;
            }
            self.beat();
            // After a full claim more is likely due: wait for room for a good batch rather
            // than claiming a few at a time.
            let want = if full { (held / 4).max(1) } else { 1 };
            let Ok(mut permit) = room.clone().acquire_many_owned(want as u32).await else {
                return;
            };
            let more = room.available_permits().min(CLAIM_MAX.saturating_sub(want));
            if more > 0
                && let Ok(p) = room.clone().try_acquire_many_owned(more as u32)
            {
                permit.merge(p);
            }
            let limit = permit.num_permits();
            let now = self.clock.now();
            let db = self.store.db();
            let claimed = match lane {
                Lane::Mail => deliveries::claim(db, CHANNELS, now, self.lease, limit as u64).await,
                Lane::Hooks => {
                    crate::store::endpoints::claim(db, now, self.lease, limit as u64).await
                }
            };
            match claimed {
                Ok(batch) if !batch.is_empty() => {
                    full = batch.len() == limit;
                    let span = tracing::info_span!(
                        "claimed",
                        lane = lane.name(),
                        deliveries = batch.len()
                    );
                    let context =
                        tracing::Instrument::instrument(self.context(lane, &batch), span).await;
                    match context {
                        Ok(context) => {
                            let context = Arc::new(context);
                            for delivery in batch {
                                let Some(permit) = permit.split(1) else { break };
                                let job = Job {
                                    delivery,
                                    context: context.clone(),
                                    permit,
                                };
                                if jobs.send(job).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, lane = lane.name(), "reading what claimed deliveries need; they are retried after their lease");
                            drop(permit);
                            tokio::time::sleep(POLL).await;
                        }
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, lane = lane.name(), "claiming deliveries")
                }
            }
            full = false;
            drop(permit);
            // Endpoint deliveries due now but not claimed wait for an earlier one (its end
            // wakes this loop) or for a paused endpoint: only later due times matter there.
            let due = match lane {
                Lane::Mail => deliveries::next_due(db, CHANNELS).await,
                Lane::Hooks => crate::store::endpoints::next_due_after(db, now).await,
            }
            .ok()
            .flatten();
            let clock = self.clock.clone();
            tokio::select! {
                () = self.woken(lane).notified() => {}
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

    /// What a claimed batch needs to be sent, read once for the batch.
    async fn context(
        &self,
        lane: Lane,
        batch: &[entity::deliveries::Model],
    ) -> Result<Context, StoreError> {
        let db = self.store.db();
        let ids: Vec<SubscriberId> = batch
            .iter()
            .filter_map(|d| d.subscriber_id.clone())
            .collect();
        let subs = subscribers::rows(db, &ids).await?;
        let now = self.clock.now();
        match lane {
            Lane::Mail => {
                let page = self.page_facts().await?;
                let mut tenants_: HashMap<crate::domain::TenantId, TenantFacts> = HashMap::new();
                for id in batch.iter().filter_map(|d| d.tenant_id.as_ref()) {
                    if tenants_.contains_key(id) {
                        continue;
                    }
                    match tenants::get(db, id).await {
                        Ok(t) => {
                            tenants_.insert(
                                id.clone(),
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
                for d in batch {
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        subjects.entry(d.event_seq)
                    {
                        slot.insert(self.subject(d.event_seq).await?);
                    }
                }
                let mut sign_in = HashMap::new();
                for d in batch {
                    if let Some(Subject::SignIn { user, purpose }) = subjects.get(&d.event_seq) {
                        match crate::store::users::row(db, user).await {
                            Ok(u) if u.disabled_at.is_none() && u.email == d.recipient => {
                                let token =
                                    crate::store::users::issue_link(db, user, *purpose, now)
                                        .await?;
                                sign_in.insert(
                                    d.id,
                                    format!("{}/admin/welcome?token={}", page.url, token.0),
                                );
                            }
                            Ok(_) | Err(StoreError::NotFound { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                Ok(Context::Mail(Box::new(MailContext {
                    page,
                    subjects,
                    subs,
                    tenants: tenants_,
                    sign_in,
                    now,
                })))
            }
            Lane::Hooks => {
                let page = pages::get(db, self.store.page_id()).await?;
                let components = components::list(db, self.store.page_id()).await?;
                let ctx = crate::render::statuspage::PageCtx::new(&page);
                let mut tenant_secrets: HashMap<i64, Option<String>> = HashMap::new();
                for d in batch {
                    if let (Some(t), RecipientKind::Tenant) = (&d.tenant_id, d.recipient_kind) {
                        let found = tenants::contact_secret(db, t, d.channel, &d.recipient).await?;
                        tenant_secrets.insert(d.id, found);
                    }
                }
                let mut subjects: HashMap<i64, (Subject, String)> = HashMap::new();
                for d in batch {
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        subjects.entry(d.event_seq)
                    {
                        let kind = events::get(db, d.event_seq)
                            .await?
                            .map(|r| r.kind)
                            .unwrap_or_default();
                        slot.insert((self.subject(d.event_seq).await?, kind));
                    }
                }
                Ok(Context::Hooks(Box::new(HookContext {
                    page,
                    components,
                    ctx,
                    subjects,
                    subs,
                    tenant_secrets,
                    rendered: std::sync::Mutex::new(HashMap::new()),
                })))
            }
        }
    }

    /// Sends claimed deliveries, `concurrency` at a time, each in its own task.
    async fn dispatch(
        self: Arc<Self>,
        lane: Lane,
        mut jobs: mpsc::Receiver<Job>,
        done: mpsc::UnboundedSender<Done>,
    ) {
        let slots = Arc::new(Semaphore::new(self.sending(lane)));
        let unrecorded = Arc::new(Semaphore::new(self.sending(lane) * UNRECORDED));
        while let Some(job) = jobs.recv().await {
            let Ok(sent) = unrecorded.clone().acquire_owned().await else {
                return;
            };
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let me = self.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let Job {
                    delivery,
                    context,
                    permit,
                } = job;
                let span = tracing::info_span!("deliver", delivery = delivery.id, channel = %delivery.channel, event = delivery.event_seq);
                let attempt =
                    tracing::Instrument::instrument(me.attempt(delivery, &context), span).await;
                drop(slot);
                match attempt {
                    Some(a) => {
                        let _ = done.send((a, permit, sent));
                    }
                    None => {
                        // Its lease ran out while it waited: it is claimed again (here or
                        // by another instance) and sent then.
                        drop(permit);
                        me.woken(lane).notify_one();
                    }
                }
            });
        }
    }

    /// Tries one delivery; `None` when its lease ran out before it could be sent.
    async fn attempt(
        &self,
        d: entity::deliveries::Model,
        context: &Context,
    ) -> Option<deliveries::Attempt> {
        let expired = |now: DateTime<Utc>| d.lease_until.is_some_and(|l| l <= now);
        match context {
            Context::Mail(c) => {
                self.mailer.pace().await;
                if expired(self.clock.now()) {
                    return None;
                }
                let started = Instant::now();
                let outcome = match self.prepare(&d, c, c.now) {
                    Err(o) => o,
                    Ok(message) => self.mailer.send(message).await,
                };
                if let deliveries::Outcome::Temporary(e) | deliveries::Outcome::Permanent(e) =
                    &outcome
                {
                    tracing::warn!(delivery = d.id, recipient = %d.recipient, error = %e, "delivery failed");
                }
                Some(deliveries::Attempt {
                    delivery: d,
                    outcome,
                    duration_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
                    status_code: None,
                    response: None,
                })
            }
            Context::Hooks(c) => {
                let now = self.clock.now();
                if expired(now) {
                    return None;
                }
                let started = Instant::now();
                let answer = match self.prepare_hook(&d, c, now) {
                    Err(o) => webhook::Answer {
                        outcome: o,
                        status: None,
                        excerpt: None,
                    },
                    Ok(req) => self.hooks.send(req, now).await,
                };
                if let Some(e) = answer.outcome.error() {
                    tracing::warn!(delivery = d.id, channel = %d.channel, endpoint = %d.recipient, error = %e, "endpoint delivery failed");
                }
                Some(deliveries::Attempt {
                    delivery: d,
                    outcome: answer.outcome,
                    duration_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
                    status_code: answer.status,
                    response: answer.excerpt,
                })
            }
        }
    }

    /// Records attempts as they come, many per transaction (those that arrive while one
    /// is written go in the next), then frees their room.
    async fn record(self: Arc<Self>, lane: Lane, mut done: mpsc::UnboundedReceiver<Done>) {
        let mut buf: Vec<Done> = Vec::with_capacity(FINISH_MAX);
        while done.recv_many(&mut buf, FINISH_MAX).await > 0 {
            let mut permits = Vec::with_capacity(buf.len() * 2);
            let attempts: Vec<deliveries::Attempt> = buf
                .drain(..)
                .map(|(a, room, sent)| {
                    permits.push(room);
                    permits.push(sent);
                    a
                })
                .collect();
            let span =
                tracing::info_span!("record", lane = lane.name(), deliveries = attempts.len());
            let recorded =
                tracing::Instrument::instrument(self.finish(lane, &attempts), span).await;
            if let Err(e) = recorded {
                tracing::error!(error = %e, lane = lane.name(), "recording deliveries; they are retried after their lease");
                tokio::time::sleep(POLL).await;
            }
            self.beat();
            drop(permits);
            // An endpoint's next delivery may be due now that this one is done.
            self.woken(lane).notify_one();
        }
    }

    async fn finish(&self, lane: Lane, attempts: &[deliveries::Attempt]) -> Result<(), StoreError> {
        let jitter: Vec<f64> = {
            let mut rng = rand::rng();
            (0..attempts.len()).map(|_| rng.random::<f64>()).collect()
        };
        let mut draws = jitter.into_iter();
        let done = deliveries::finish(self.store.db(), attempts, self.clock.now(), move || {
            draws.next().unwrap_or(0.5)
        })
        .await?;
        for (channel, result) in &done.results {
            self.metrics
                .deliveries
                .with_label_values(&[channel.as_str(), result])
                .inc();
            if *result == "retrying" {
                self.metrics
                    .retries
                    .with_label_values(&[channel.as_str()])
                    .inc();
            }
        }
        for q in &done.quarantined {
            tracing::warn!(subscriber = %q, "subscriber quarantined after repeated permanent failures");
        }
        if lane == Lane::Hooks && (!done.endpoint_alerts.is_empty() || !done.gone.is_empty()) {
            let mut events: Vec<Event> = done
                .endpoint_alerts
                .iter()
                .map(|(s, paused)| Event::EndpointFailing {
                    subscriber_id: s.clone(),
                    paused: *paused,
                })
                .collect();
            events.extend(done.gone.iter().map(|s| Event::SubscriberUnsubscribed {
                subscriber_id: s.clone(),
            }));
            for (s, paused) in &done.endpoint_alerts {
                tracing::warn!(subscriber = %s, paused, "endpoint failing; telling its owner");
            }
            let mut w = self
                .store
                .begin(&crate::store::Actor::system("webhooks"), self.clock.now())
                .await?;
            w.record(&events).await?;
            w.commit().await?;
        }
        Ok(())
    }

    /// The request for one endpoint delivery, or why it is not sent.
    fn prepare_hook(
        &self,
        d: &entity::deliveries::Model,
        c: &HookContext,
        now: DateTime<Utc>,
    ) -> Result<webhook::Request, deliveries::Outcome> {
        use deliveries::Outcome::Cancelled;
        let (subjects, subs, tenant_secrets) = (&c.subjects, &c.subs, &c.tenant_secrets);
        let rendering =
            |e: serde_json::Error| deliveries::Outcome::Permanent(format!("rendering: {e}"));
        let sub = d.subscriber_id.as_ref().and_then(|id| subs.get(id));
        if d.subscriber_id.is_some() && sub.is_none_or(|s| s.state != SubscriberState::Active) {
            return Err(Cancelled(match sub {
                Some(s) => format!("the subscriber is {}", s.state),
                None => "the subscriber is gone".to_owned(),
            }));
        }
        let (secret, previous) = match (sub, d.recipient_kind) {
            (Some(s), _) => (
                s.signing_secret.clone(),
                s.previous_secret.clone().zip(s.previous_secret_until),
            ),
            (None, RecipientKind::Tenant) => match tenant_secrets.get(&d.id) {
                Some(secret) => (secret.clone(), None),
                None => return Err(Cancelled("the tenant contact is gone".into())),
            },
            _ => (None, None),
        };
        let Some((subject, kind)) = subjects.get(&d.event_seq) else {
            return Err(Cancelled("the event is gone".into()));
        };
        if let Subject::Overrun(incident) = subject {
            maintenance::still_running(incident)?;
            let body = maintenance::overrun_hook(&c.page.name, &c.ctx.url, c.ctx.tz, incident);
            return Ok(webhook::Request {
                url: d.recipient.clone(),
                body: serde_json::to_vec(&body).map_err(rendering)?,
                id: d.message_id.clone(),
                secret,
                previous,
            });
        }
        if let Subject::Reminder { incident, due_at } = subject {
            promises::still_due(incident, *due_at)?;
            let body = promises::hook(
                &c.page.name,
                &c.ctx.url,
                c.ctx.tz,
                incident,
                *due_at,
                now,
                d.event_seq,
            );
            return Ok(webhook::Request {
                url: d.recipient.clone(),
                body: serde_json::to_vec(&body).map_err(rendering)?,
                id: d.message_id.clone(),
                secret,
                previous,
            });
        }
        let told = match subject {
            Subject::Incident {
                incident, update, ..
            } => hooks::Told::Incident {
                incident,
                update: update.as_ref(),
            },
            Subject::Component { id, old, new, at } => hooks::Told::Component {
                id,
                old: *old,
                new: *new,
                at: *at,
            },
            _ => return Err(Cancelled("nothing to tell an endpoint".into())),
        };
        // What every endpoint of the channel is told of the event is rendered once per
        // claimed batch; a webhook adds its own `meta`.
        let shared = c.rendered(d.event_seq, d.channel, |view| {
            serde_json::to_vec(&match d.channel {
                Channel::Webhook => hooks::webhook_members(view, &told, d.event_seq, kind),
                other => hooks::chat(other, view, &told),
            })
        });
        let shared = shared.map_err(rendering)?;
        let body = match d.channel {
            Channel::Webhook => {
                let unsubscribe = match sub {
                    Some(s) => self.links.unsubscribe_url(s),
                    None => c.ctx.url.clone(),
                };
                hooks::with_meta(&shared, &hooks::meta(&c.ctx, &unsubscribe, now))
                    .map_err(rendering)?
            }
            _ => shared.to_vec(),
        };
        Ok(webhook::Request {
            url: d.recipient.clone(),
            body,
            id: d.message_id.clone(),
            secret,
            previous,
        })
    }

    /// The message for one delivery, or why it is not sent.
    fn prepare(
        &self,
        d: &entity::deliveries::Model,
        c: &MailContext,
        now: DateTime<Utc>,
    ) -> Result<lettre::Message, deliveries::Outcome> {
        use deliveries::Outcome::Cancelled;
        let (page, subjects, subs, tenants_) = (&c.page, &c.subjects, &c.subs, &c.tenants);
        let sub = d.subscriber_id.as_ref().and_then(|id| subs.get(id));
        let wanted = match d.recipient_kind {
            RecipientKind::Confirmation => SubscriberState::Unconfirmed,
            _ => SubscriberState::Active,
        };
        let owner = d.recipient_kind == RecipientKind::Owner;
        if d.subscriber_id.is_some() && sub.is_none_or(|s| s.state != wanted && !owner) {
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
            Subject::Reminder { incident, due_at } => {
                promises::still_due(incident, *due_at)?;
                (
                    promises::mail(&page.name, &page.url, page.tz, incident, *due_at, now),
                    None,
                )
            }
            Subject::Overrun(incident) => {
                maintenance::still_running(incident)?;
                (
                    maintenance::overrun_mail(&page.name, &page.url, page.tz, incident),
                    None,
                )
            }
            Subject::EndpointFailing(_, paused) => {
                let Some(s) = sub else {
                    return Err(Cancelled("the subscriber is gone".into()));
                };
                (owner_notice(page, s, *paused), None)
            }
            Subject::SignIn { purpose, .. } => {
                let Some(url) = c.sign_in.get(&d.id) else {
                    return Err(Cancelled("the user is gone or disabled".into()));
                };
                match self.composer.sign_in(page, url, *purpose) {
                    Ok(r) => (r, None),
                    Err(e) => {
                        return Err(deliveries::Outcome::Permanent(format!("rendering: {e}")));
                    }
                }
            }
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
            Subject::Incident {
                incident,
                update,
                notice,
            } => {
                let about = About::Incident {
                    incident,
                    update: update.as_ref(),
                    notice: notice.as_ref(),
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
