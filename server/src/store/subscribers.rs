//! Subscribers: people (email) and endpoints (webhooks, chat) that follow the whole page,
//! a chosen set of components or groups, or one incident.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use rand::{Rng, distr::Alphanumeric};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use serde_json::json;

use super::{
    Result, StoreError, Write,
    entity::{components, subscriber_components as follows, subscribers},
    new_id,
};
use crate::domain::{
    Channel, ComponentId, Event, IncidentId, PageId, SubscriberId, SubscriberState, notify,
};

/// A random nonce for links (changed to void the links sent before).
pub fn nonce() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// A subscriber with what it follows (empty: everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub row: subscribers::Model,
    pub components: Vec<ComponentId>,
}

impl Subscriber {
    pub fn id(&self) -> &SubscriberId {
        &self.row.id
    }

    /// Where it is reached: the email address or the endpoint.
    pub fn address(&self) -> &str {
        self.row
            .email
            .as_deref()
            .filter(|_| self.row.mode == Channel::Email)
            .or(self.row.endpoint.as_deref())
            .unwrap_or_default()
    }
}

/// A subscription to make.
#[derive(Debug, Clone, Default)]
pub struct NewSubscriber {
    pub mode: Option<Channel>,
    pub email: Option<String>,
    pub endpoint: Option<String>,
    /// Components or groups; empty: everything.
    pub component_ids: Vec<ComponentId>,
    pub skip_confirmation_notification: bool,
    /// Told only about this incident.
    pub incident_id: Option<IncidentId>,
}

/// The most components one subscription names.
pub const MAX_FOLLOWED: usize = 1_000;

/// Checks that `ids` are components or groups of the page (`field` names them).
pub async fn check_components(
    db: &impl ConnectionTrait,
    page: &PageId,
    ids: &[ComponentId],
    field: &str,
) -> Result<Vec<ComponentId>> {
    if ids.len() > MAX_FOLLOWED {
        return Err(StoreError::invalid(
            field,
            format!("{field} names at most {MAX_FOLLOWED} components"),
        ));
    }
    let mut seen = HashSet::new();
    let unique: Vec<ComponentId> = ids.iter().filter(|i| seen.insert(*i)).cloned().collect();
    let mut found = HashSet::new();
    for chunk in unique.chunks(500) {
        for id in components::Entity::find()
            .select_only()
            .column(components::Column::Id)
            .filter(components::Column::PageId.eq(page.clone()))
            .filter(components::Column::DeletedAt.is_null())
            .filter(components::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple::<ComponentId>()
            .all(db)
            .await?
        {
            found.insert(id);
        }
    }
    if let Some(missing) = unique.iter().find(|i| !found.contains(*i)) {
        return Err(StoreError::invalid(
            field,
            format!("component '{missing}' does not exist"),
        ));
    }
    Ok(unique)
}

async fn set_follows(
    db: &impl ConnectionTrait,
    id: &SubscriberId,
    ids: &[ComponentId],
) -> Result<()> {
    follows::Entity::delete_many()
        .filter(follows::Column::SubscriberId.eq(id.clone()))
        .exec(db)
        .await?;
    subscribers::Entity::update_many()
        .col_expr(subscribers::Column::FollowsAll, Expr::value(ids.is_empty()))
        .filter(subscribers::Column::Id.eq(id.clone()))
        .exec(db)
        .await?;
    for chunk in ids.chunks(200) {
        follows::Entity::insert_many(chunk.iter().map(|c| follows::ActiveModel {
            subscriber_id: Set(id.clone()),
            component_id: Set(c.clone()),
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Marks every subscriber who chose no component as following the whole page, and
/// the others not, from the follows themselves (after an import, whose rows may come
/// from before the mark existed).
pub async fn derive_follows_all(db: &impl ConnectionTrait) -> Result<()> {
    db.execute_unprepared(
        "UPDATE subscribers SET follows_all = NOT EXISTS \
         (SELECT 1 FROM subscriber_components f WHERE f.subscriber_id = subscribers.id)",
    )
    .await?;
    Ok(())
}

/// Validates a new subscription into a row (not yet stored).
pub fn validate(
    new: &NewSubscriber,
    page: &PageId,
    now: DateTime<Utc>,
) -> Result<subscribers::Model> {
    let mode = new.mode.unwrap_or(if new.endpoint.is_some() {
        Channel::Webhook
    } else {
        Channel::Email
    });
    let (email, endpoint) = match mode {
        Channel::Email => {
            let Some(e) = new.email.as_deref() else {
                return Err(StoreError::invalid(
                    "email",
                    "an email subscriber needs `email`",
                ));
            };
            (Some(notify::email("email", e)?), None)
        }
        _ => {
            let Some(e) = new.endpoint.as_deref() else {
                return Err(StoreError::invalid(
                    "endpoint",
                    format!("a {mode} subscriber needs `endpoint`"),
                ));
            };
            let owner = match new.email.as_deref() {
                Some(o) => Some(notify::email("email", o)?),
                None => None,
            };
            (owner, Some(notify::endpoint("endpoint", e)?))
        }
    };
    let address = endpoint.as_deref().or(email.as_deref()).unwrap_or_default();
    // People confirm by mail; endpoints are active once made (as on Statuspage).
    let active = new.skip_confirmation_notification || mode != Channel::Email;
    Ok(subscribers::Model {
        id: SubscriberId::new(new_id()),
        page_id: page.clone(),
        mode,
        address_key: notify::address_key(mode, address, new.incident_id.as_ref()),
        email,
        endpoint,
        incident_id: new.incident_id.clone(),
        state: if active {
            SubscriberState::Active
        } else {
            SubscriberState::Unconfirmed
        },
        skip_confirmation_notification: new.skip_confirmation_notification,
        confirm_nonce: nonce(),
        manage_nonce: nonce(),
        bounce_count: 0,
        quarantined_at: None,
        purge_at: None,
        confirmed_at: active.then_some(now),
        unsubscribed_at: None,
        created_at: now,
        updated_at: now,
        signing_secret: (mode != Channel::Email).then(crate::domain::webhook::new_secret),
        previous_secret: None,
        previous_secret_until: None,
        follows_all: true,
    })
}

/// The subscription with the same channel, address and incident, if any.
pub async fn find_by_key(db: &impl ConnectionTrait, key: &str) -> Result<Option<Subscriber>> {
    let Some(row) = subscribers::Entity::find()
        .filter(subscribers::Column::AddressKey.eq(key))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(with_components(db, vec![row]).await?.pop())
}

/// Makes a subscription. A duplicate is a conflict; an unconfirmed person is sent the
/// confirmation link.
#[tracing::instrument(skip_all, fields(page = %w.page_id()))]
pub async fn create(w: &mut Write, new: NewSubscriber) -> Result<Subscriber> {
    let row = validate(&new, w.page_id(), w.now())?;
    let ids = check_components(w.conn(), w.page_id(), &new.component_ids, "component_ids").await?;
    if let Some(existing) = find_by_key(w.conn(), &row.address_key).await? {
        return Err(StoreError::Conflict(format!(
            "'{}' is already subscribed (subscriber {}, {})",
            existing.address(),
            existing.id(),
            existing.row.state
        )));
    }
    let id = row.id.clone();
    let state = row.state;
    subscribers::Entity::insert(subscribers::ActiveModel::from(row))
        .exec_without_returning(w.conn())
        .await?;
    set_follows(w.conn(), &id, &ids).await?;
    let mut events = vec![Event::SubscriberCreated {
        subscriber_id: id.clone(),
    }];
    if state == SubscriberState::Unconfirmed {
        events.push(Event::ConfirmationRequested {
            subscriber_id: id.clone(),
        });
    }
    w.record(&events).await?;
    w.audit(
        "subscriber.create",
        "subscriber",
        id.as_str(),
        json!({"state": state, "components": ids.len()}),
    )
    .await?;
    get(w.conn(), &id).await
}

async fn with_components(
    db: &impl ConnectionTrait,
    rows: Vec<subscribers::Model>,
) -> Result<Vec<Subscriber>> {
    let ids: Vec<SubscriberId> = rows.iter().map(|r| r.id.clone()).collect();
    let mut by: HashMap<SubscriberId, Vec<ComponentId>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for f in follows::Entity::find()
            .filter(follows::Column::SubscriberId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            by.entry(f.subscriber_id).or_default().push(f.component_id);
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| Subscriber {
            components: by.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

pub async fn get(db: &impl ConnectionTrait, id: &SubscriberId) -> Result<Subscriber> {
    let row = subscribers::Entity::find_by_id(id.clone())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("subscriber", id.as_str()))?;
    Ok(with_components(db, vec![row]).await?.remove(0))
}

/// Which subscribers a listing shows (`state`: Statuspage's `active` by default).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub q: Option<String>,
    pub mode: Option<Channel>,
    /// `None`: every state.
    pub state: Option<SubscriberState>,
    pub incident_id: Option<IncidentId>,
    /// Only those following one incident (`true`), or only page subscribers.
    pub incident_only: bool,
    pub sort_newest_first: bool,
    pub sort_by_quarantine: bool,
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn condition(page: &PageId, q: &Query) -> Condition {
    let mut c = Condition::all().add(subscribers::Column::PageId.eq(page.clone()));
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let like = |col: subscribers::Column| {
            Expr::expr(Func::lower(Expr::col(col)))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        c = c.add(
            Condition::any()
                .add(like(subscribers::Column::Email))
                .add(like(subscribers::Column::Endpoint)),
        );
    }
    if let Some(m) = q.mode {
        c = c.add(subscribers::Column::Mode.eq(m));
    }
    if let Some(s) = q.state {
        c = c.add(subscribers::Column::State.eq(s));
    }
    match (&q.incident_id, q.incident_only) {
        (Some(i), _) => c = c.add(subscribers::Column::IncidentId.eq(i.clone())),
        (None, true) => c = c.add(subscribers::Column::IncidentId.is_not_null()),
        (None, false) => c = c.add(subscribers::Column::IncidentId.is_null()),
    }
    c
}

pub async fn list(
    db: &impl ConnectionTrait,
    page: &PageId,
    q: &Query,
    limit: u64,
    offset: u64,
) -> Result<Vec<Subscriber>> {
    let mut find = subscribers::Entity::find().filter(condition(page, q));
    if q.sort_by_quarantine {
        find = find.order_by_desc(subscribers::Column::QuarantinedAt);
    }
    find = if q.sort_newest_first {
        find.order_by_desc(subscribers::Column::CreatedAt)
            .order_by_desc(subscribers::Column::Id)
    } else {
        find.order_by_asc(subscribers::Column::CreatedAt)
            .order_by_asc(subscribers::Column::Id)
    };
    let rows = find.limit(limit).offset(offset).all(db).await?;
    with_components(db, rows).await
}

/// The longest prefix a console search takes.
pub const MAX_PREFIX: usize = 200;

/// One page of the page's own subscribers for the console, in address order along an
/// index (`idx_subscribers_page_address`, or `..._page_state_address` within a state)
/// so its cost does not grow with the page's size. `prefix` keeps those whose address
/// starts with it: an email address (case-insensitive), or an endpoint's URL when it
/// starts with `http`; each is a range of the index. `after` is the cursor the
/// previous page ended on (`Listed::next`).
pub async fn browse(
    db: &impl ConnectionTrait,
    page: &PageId,
    prefix: Option<&str>,
    state: Option<SubscriberState>,
    after: Option<&str>,
    limit: u64,
) -> Result<Listed> {
    let mut find = subscribers::Entity::find()
        .filter(subscribers::Column::PageId.eq(page.clone()))
        .filter(subscribers::Column::IncidentId.is_null());
    if let Some(s) = state {
        find = find.filter(subscribers::Column::State.eq(s));
    }
    let prefix = prefix
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.chars().take(MAX_PREFIX).collect::<String>());
    if let Some(p) = prefix {
        // Each channel's keys are `channel:address:`; a prefix is a range of them.
        let channels: &[Channel] = if p.to_lowercase().starts_with("http") {
            &[
                Channel::Webhook,
                Channel::Slack,
                Channel::Discord,
                Channel::Teams,
            ]
        } else {
            &[Channel::Email]
        };
        let mut any = Condition::any();
        for c in channels {
            let address = if *c == Channel::Email {
                p.to_lowercase()
            } else {
                p.clone()
            };
            let low = format!("{c}:{address}");
            let high = format!("{low}\u{10FFFF}");
            let like = format!("{}%", escape_like(&low));
            any = any.add(
                Condition::all()
                    .add(subscribers::Column::AddressKey.gte(low))
                    .add(subscribers::Column::AddressKey.lt(high))
                    .add(
                        Expr::col(subscribers::Column::AddressKey)
                            .like(LikeExpr::new(like).escape('\\')),
                    ),
            );
        }
        find = find.filter(any);
    }
    if let Some(a) = after {
        find = find.filter(subscribers::Column::AddressKey.gt(a));
    }
    let mut rows = find
        .order_by_asc(subscribers::Column::AddressKey)
        .limit(limit.saturating_add(1))
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|r| r.address_key.clone());
    Ok(Listed {
        rows: with_components(db, rows).await?,
        next,
    })
}

/// A page of subscribers and the cursor of the next one, if there is one.
#[derive(Debug, Clone)]
pub struct Listed {
    pub rows: Vec<Subscriber>,
    pub next: Option<String>,
}

/// Subscribers by channel: `{"email": n, ...}` over every channel.
pub async fn count(
    db: &impl ConnectionTrait,
    page: &PageId,
    q: &Query,
) -> Result<BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, u64> = Channel::ALL.iter().map(|c| (c.to_string(), 0)).collect();
    let rows: Vec<(Channel, i64)> = subscribers::Entity::find()
        .select_only()
        .column(subscribers::Column::Mode)
        .column_as(subscribers::Column::Id.count(), "n")
        .filter(condition(
            page,
            &Query {
                mode: None,
                ..q.clone()
            },
        ))
        .group_by(subscribers::Column::Mode)
        .into_tuple()
        .all(db)
        .await?;
    for (mode, n) in rows {
        if q.mode.is_none_or(|m| m == mode) {
            out.insert(mode.to_string(), u64::try_from(n).unwrap_or(0));
        }
    }
    if let Some(m) = q.mode {
        out.retain(|k, _| k == m.as_str());
    }
    Ok(out)
}

/// The page's own subscribers counted by channel and state (every state), read from
/// an index alone.
pub async fn tally(
    db: &impl ConnectionTrait,
    page: &PageId,
) -> Result<Vec<(Channel, SubscriberState, i64)>> {
    Ok(subscribers::Entity::find()
        .select_only()
        .column(subscribers::Column::Mode)
        .column(subscribers::Column::State)
        // COUNT(*): the index holds the columns read, not the id.
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(subscribers::Column::PageId.eq(page.clone()))
        .filter(subscribers::Column::IncidentId.is_null())
        .group_by(subscribers::Column::Mode)
        .group_by(subscribers::Column::State)
        .into_tuple()
        .all(db)
        .await?)
}

/// Subscribers by channel and state, with totals.
pub async fn histogram(
    db: &impl ConnectionTrait,
    page: &PageId,
) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let rows = tally(db, page).await?;
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = Channel::ALL
        .iter()
        .map(|c| {
            (
                c.to_string(),
                ["active", "unconfirmed", "quarantined", "total"]
                    .into_iter()
                    .map(|k| (k.to_owned(), 0))
                    .collect(),
            )
        })
        .collect();
    for (mode, state, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        let m = out.entry(mode.to_string()).or_default();
        if state != SubscriberState::Unsubscribed {
            *m.entry(state.to_string()).or_default() += n;
            *m.entry("total".to_owned()).or_default() += n;
        }
    }
    Ok(out)
}

/// Makes `ids` exactly what the subscriber follows.
pub async fn set_components(
    w: &mut Write,
    id: &SubscriberId,
    ids: &[ComponentId],
) -> Result<Subscriber> {
    get(w.conn(), id).await?;
    let ids = check_components(w.conn(), w.page_id(), ids, "component_ids").await?;
    set_follows(w.conn(), id, &ids).await?;
    subscribers::Entity::update_many()
        .col_expr(subscribers::Column::UpdatedAt, Expr::value(w.now()))
        .filter(subscribers::Column::Id.eq(id.clone()))
        .exec(w.conn())
        .await?;
    w.record(&[Event::SubscriberUpdated {
        subscriber_id: id.clone(),
    }])
    .await?;
    w.audit(
        "subscriber.update",
        "subscriber",
        id.as_str(),
        json!({"components": ids.len()}),
    )
    .await?;
    get(w.conn(), id).await
}

async fn set_state(w: &mut Write, ids: &[SubscriberId], to: SubscriberState) -> Result<u64> {
    let now = w.now();
    let mut update = subscribers::Entity::update_many()
        .col_expr(subscribers::Column::State, Expr::value(to))
        .col_expr(subscribers::Column::UpdatedAt, Expr::value(now));
    let (event, action): (fn(SubscriberId) -> Event, &str) = match to {
        SubscriberState::Unsubscribed => {
            update = update
                .col_expr(subscribers::Column::UnsubscribedAt, Expr::value(Some(now)))
                // Links sent before keep working for the manage page, not for repeats.
                .col_expr(subscribers::Column::ConfirmNonce, Expr::value(nonce()));
            (
                |subscriber_id| Event::SubscriberUnsubscribed { subscriber_id },
                "subscriber.unsubscribe",
            )
        }
        SubscriberState::Active => {
            update = update
                .col_expr(
                    subscribers::Column::QuarantinedAt,
                    Expr::value(None::<DateTime<Utc>>),
                )
                .col_expr(
                    subscribers::Column::PurgeAt,
                    Expr::value(None::<DateTime<Utc>>),
                )
                .col_expr(
                    subscribers::Column::UnsubscribedAt,
                    Expr::value(None::<DateTime<Utc>>),
                )
                .col_expr(subscribers::Column::BounceCount, Expr::value(0));
            (
                |subscriber_id| Event::SubscriberReactivated { subscriber_id },
                "subscriber.reactivate",
            )
        }
        other => {
            return Err(StoreError::invalid(
                "state",
                format!("a subscriber cannot be set to {other}"),
            ));
        }
    };
    let mut n = 0;
    for chunk in ids.chunks(500) {
        n += update
            .clone()
            .filter(subscribers::Column::Id.is_in(chunk.iter().cloned()))
            .filter(subscribers::Column::PageId.eq(w.page_id().clone()))
            .exec(w.conn())
            .await?
            .rows_affected;
    }
    let events: Vec<Event> = ids.iter().cloned().map(event).collect();
    w.record(&events).await?;
    w.audit(
        action,
        "subscriber",
        &format!("{} subscribers", ids.len()),
        json!({"ids": ids.len()}),
    )
    .await?;
    Ok(n)
}

/// Gives an endpoint subscriber a new signing secret; the current one stays valid beside
/// it (both signatures are sent) for [`crate::domain::webhook::rotation_window`].
pub async fn rotate_secret(w: &mut Write, id: &SubscriberId) -> Result<(Subscriber, String)> {
    let s = get(w.conn(), id).await?;
    if s.row.mode == Channel::Email {
        return Err(StoreError::invalid(
            "subscriber",
            "an email subscriber has no signing secret",
        ));
    }
    let now = w.now();
    let fresh = crate::domain::webhook::new_secret();
    subscribers::Entity::update_many()
        .col_expr(
            subscribers::Column::SigningSecret,
            Expr::value(Some(fresh.clone())),
        )
        .col_expr(
            subscribers::Column::PreviousSecret,
            Expr::value(s.row.signing_secret.clone()),
        )
        .col_expr(
            subscribers::Column::PreviousSecretUntil,
            Expr::value(Some(now + crate::domain::webhook::rotation_window())),
        )
        .col_expr(subscribers::Column::UpdatedAt, Expr::value(now))
        .filter(subscribers::Column::Id.eq(id.clone()))
        .exec(w.conn())
        .await?;
    w.record(&[Event::SubscriberUpdated {
        subscriber_id: id.clone(),
    }])
    .await?;
    w.audit(
        "subscriber.rotate_secret",
        "subscriber",
        id.as_str(),
        json!({}),
    )
    .await?;
    Ok((get(w.conn(), id).await?, fresh))
}

/// Unsubscribes `ids`.
pub async fn unsubscribe(w: &mut Write, ids: &[SubscriberId]) -> Result<u64> {
    set_state(w, ids, SubscriberState::Unsubscribed).await
}

/// Makes quarantined or unsubscribed subscribers active again; their paused endpoints
/// resume where they stopped, in order.
pub async fn reactivate(w: &mut Write, ids: &[SubscriberId]) -> Result<u64> {
    let n = set_state(w, ids, SubscriberState::Active).await?;
    let mut endpoints = Vec::new();
    for chunk in ids.chunks(500) {
        for (mode, endpoint) in subscribers::Entity::find()
            .select_only()
            .column(subscribers::Column::Mode)
            .column(subscribers::Column::Endpoint)
            .filter(subscribers::Column::Id.is_in(chunk.iter().cloned()))
            .filter(subscribers::Column::Mode.ne(Channel::Email))
            .into_tuple::<(Channel, Option<String>)>()
            .all(w.conn())
            .await?
        {
            if let Some(e) = endpoint {
                endpoints.push((mode, e));
            }
        }
    }
    super::endpoints::resume(w.conn(), &endpoints, w.now()).await?;
    Ok(n)
}

/// Confirms a person's subscription (the link in the confirmation mail).
pub async fn confirm(w: &mut Write, id: &SubscriberId) -> Result<Subscriber> {
    let now = w.now();
    subscribers::Entity::update_many()
        .col_expr(
            subscribers::Column::State,
            Expr::value(SubscriberState::Active),
        )
        .col_expr(subscribers::Column::ConfirmedAt, Expr::value(Some(now)))
        .col_expr(subscribers::Column::ConfirmNonce, Expr::value(nonce()))
        .col_expr(subscribers::Column::UpdatedAt, Expr::value(now))
        .filter(subscribers::Column::Id.eq(id.clone()))
        .exec(w.conn())
        .await?;
    w.record(&[Event::SubscriberConfirmed {
        subscriber_id: id.clone(),
    }])
    .await?;
    w.audit("subscriber.confirm", "subscriber", id.as_str(), json!({}))
        .await?;
    get(w.conn(), id).await
}

/// Sends unconfirmed people their confirmation link again (a fresh one).
pub async fn resend_confirmation(w: &mut Write, ids: &[SubscriberId]) -> Result<u64> {
    let mut events = Vec::new();
    for chunk in ids.chunks(500) {
        let waiting: Vec<SubscriberId> = subscribers::Entity::find()
            .select_only()
            .column(subscribers::Column::Id)
            .filter(subscribers::Column::Id.is_in(chunk.iter().cloned()))
            .filter(subscribers::Column::PageId.eq(w.page_id().clone()))
            .filter(subscribers::Column::State.eq(SubscriberState::Unconfirmed))
            .into_tuple()
            .all(w.conn())
            .await?;
        for id in waiting {
            events.push(Event::ConfirmationRequested { subscriber_id: id });
        }
    }
    let n = events.len() as u64;
    w.record(&events).await?;
    w.audit(
        "subscriber.resend_confirmation",
        "subscriber",
        &format!("{n} subscribers"),
        json!({"sent": n}),
    )
    .await?;
    Ok(n)
}

/// The ids matching `q` (for bulk actions on "all").
pub async fn ids(db: &impl ConnectionTrait, page: &PageId, q: &Query) -> Result<Vec<SubscriberId>> {
    Ok(subscribers::Entity::find()
        .select_only()
        .column(subscribers::Column::Id)
        .filter(condition(page, q))
        .into_tuple()
        .all(db)
        .await?)
}

/// Active page subscribers (not an incident's) on `channels`, in id order after `after`:
/// with `whole_page_only`, only those who follow the whole page (an ordered range of
/// `idx_subscribers_follows_all`).
pub async fn active_batch(
    db: &impl ConnectionTrait,
    page: &PageId,
    channels: &[Channel],
    after: Option<&SubscriberId>,
    limit: u64,
    whole_page_only: bool,
) -> Result<Vec<Subscriber>> {
    let mut q = subscribers::Entity::find()
        .filter(subscribers::Column::PageId.eq(page.clone()))
        .filter(subscribers::Column::State.eq(SubscriberState::Active))
        .filter(subscribers::Column::IncidentId.is_null())
        .filter(subscribers::Column::Mode.is_in(channels.iter().copied()));
    if whole_page_only {
        q = q.filter(subscribers::Column::FollowsAll.eq(true));
    }
    if let Some(a) = after {
        q = q.filter(subscribers::Column::Id.gt(a.clone()));
    }
    let rows = q
        .order_by_asc(subscribers::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    with_components(db, rows).await
}

/// Active page subscribers on `channels` who chose `component` and none of `earlier`
/// (read before, so nobody is listed twice), in id order after `after`: an ordered
/// range of `idx_subscriber_components_followers`, whatever the page's size.
pub async fn followers_batch(
    db: &impl ConnectionTrait,
    page: &PageId,
    channels: &[Channel],
    component: &ComponentId,
    earlier: &[ComponentId],
    after: Option<&SubscriberId>,
    limit: u64,
) -> Result<Vec<Subscriber>> {
    use sea_orm::{
        FromQueryResult, Iterable,
        sea_query::{Order, Query},
    };
    let mut q = Query::select();
    q.columns(subscribers::Column::iter().map(|c| (subscribers::Entity, c)))
        .from(follows::Entity)
        .inner_join(
            subscribers::Entity,
            Expr::col((subscribers::Entity, subscribers::Column::Id))
                .equals((follows::Entity, follows::Column::SubscriberId)),
        )
        .and_where(Expr::col((follows::Entity, follows::Column::ComponentId)).eq(component.clone()))
        .and_where(Expr::col((subscribers::Entity, subscribers::Column::PageId)).eq(page.clone()))
        .and_where(
            Expr::col((subscribers::Entity, subscribers::Column::State))
                .eq(sea_orm::Value::from(SubscriberState::Active)),
        )
        .and_where(Expr::col((subscribers::Entity, subscribers::Column::IncidentId)).is_null())
        .and_where(
            Expr::col((subscribers::Entity, subscribers::Column::Mode)).is_in(
                channels
                    .iter()
                    .map(|c| sea_orm::Value::from(*c))
                    .collect::<Vec<_>>(),
            ),
        );
    if let Some(a) = after {
        q.and_where(Expr::col((follows::Entity, follows::Column::SubscriberId)).gt(a.clone()));
    }
    if !earlier.is_empty() {
        let also = sea_orm::sea_query::Alias::new("also");
        q.and_where(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from_as(follows::Entity, also.clone())
                    .and_where(
                        Expr::col((also.clone(), follows::Column::SubscriberId))
                            .equals((follows::Entity, follows::Column::SubscriberId)),
                    )
                    .and_where(
                        Expr::col((also, follows::Column::ComponentId))
                            .is_in(earlier.iter().cloned()),
                    )
                    .to_owned(),
            )
            .not(),
        );
    }
    q.order_by((follows::Entity, follows::Column::SubscriberId), Order::Asc)
        .limit(limit);
    let stmt = db.get_database_backend().build(&q);
    let rows = subscribers::Model::find_by_statement(stmt).all(db).await?;
    with_components(db, rows).await
}

/// Active subscribers of one incident.
pub async fn of_incident(
    db: &impl ConnectionTrait,
    incident: &IncidentId,
    channels: &[Channel],
) -> Result<Vec<Subscriber>> {
    let rows = subscribers::Entity::find()
        .filter(subscribers::Column::IncidentId.eq(incident.clone()))
        .filter(subscribers::Column::State.eq(SubscriberState::Active))
        .filter(subscribers::Column::Mode.is_in(channels.iter().copied()))
        .order_by_asc(subscribers::Column::Id)
        .all(db)
        .await?;
    with_components(db, rows).await
}

/// The states of `ids` (a delivery to one who left is called off).
pub async fn states(
    db: &impl ConnectionTrait,
    ids: &[SubscriberId],
) -> Result<HashMap<SubscriberId, SubscriberState>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        for (id, s) in subscribers::Entity::find()
            .select_only()
            .column(subscribers::Column::Id)
            .column(subscribers::Column::State)
            .filter(subscribers::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple::<(SubscriberId, SubscriberState)>()
            .all(db)
            .await?
        {
            out.insert(id, s);
        }
    }
    Ok(out)
}

/// The rows of `ids` (the sender reads each batch's recipients at once).
pub async fn rows(
    db: &impl ConnectionTrait,
    ids: &[SubscriberId],
) -> Result<HashMap<SubscriberId, subscribers::Model>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        for r in subscribers::Entity::find()
            .filter(subscribers::Column::Id.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.insert(r.id.clone(), r);
        }
    }
    Ok(out)
}

/// Quarantined subscribers, for the metrics.
pub async fn quarantined(db: &impl ConnectionTrait) -> Result<u64> {
    Ok(subscribers::Entity::find()
        .filter(subscribers::Column::State.eq(SubscriberState::Quarantined))
        .count(db)
        .await?)
}

/// What an import did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Imported {
    pub created: u64,
    pub skipped: u64,
    pub errors: Vec<String>,
}

/// Imports subscriptions as active (people who subscribed elsewhere): duplicates are
/// skipped, bad rows reported by number; nothing is sent.
/// `first` is the number the first row has in its file (a CSV's line).
pub async fn import(w: &mut Write, rows: Vec<NewSubscriber>, first: usize) -> Result<Imported> {
    let mut out = Imported::default();
    let mut made = Vec::new();
    for (n, mut new) in rows.into_iter().enumerate() {
        new.skip_confirmation_notification = true;
        let row = match validate(&new, w.page_id(), w.now()) {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(format!("row {}: {e}", n + first));
                continue;
            }
        };
        let ids = match check_components(w.conn(), w.page_id(), &new.component_ids, "component_ids")
            .await
        {
            Ok(ids) => ids,
            Err(e) => {
                out.errors.push(format!("row {}: {e}", n + first));
                continue;
            }
        };
        if find_by_key(w.conn(), &row.address_key).await?.is_some() {
            out.skipped += 1;
            continue;
        }
        let id = row.id.clone();
        subscribers::ActiveModel::from(row).insert(w.conn()).await?;
        set_follows(w.conn(), &id, &ids).await?;
        made.push(Event::SubscriberCreated { subscriber_id: id });
        out.created += 1;
    }
    w.record(&made).await?;
    w.audit(
        "subscriber.import",
        "subscriber",
        &format!("{} subscribers", out.created),
        json!({"created": out.created, "skipped": out.skipped, "errors": out.errors.len()}),
    )
    .await?;
    Ok(out)
}

/// What a subscription asked on the public page led to (never shown to the person, who
/// is told the same whatever the case, so the form reveals no one's subscription).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// New, or waiting: a confirmation link is on its way.
    ConfirmationSent,
    /// Already subscribed: nothing sent.
    AlreadyActive,
}

/// A person asks to subscribe on the public page: a new subscription waits for the
/// confirmation link; one waiting gets a fresh link (and what it follows now); one that
/// left must confirm again; an active one is left alone.
pub async fn request(
    w: &mut Write,
    email: &str,
    component_ids: &[ComponentId],
) -> Result<Requested> {
    let new = NewSubscriber {
        mode: Some(Channel::Email),
        email: Some(email.to_owned()),
        component_ids: component_ids.to_vec(),
        ..NewSubscriber::default()
    };
    let row = validate(&new, w.page_id(), w.now())?;
    let ids = check_components(w.conn(), w.page_id(), component_ids, "components").await?;
    match find_by_key(w.conn(), &row.address_key).await? {
        None => {
            let id = row.id.clone();
            subscribers::ActiveModel::from(row).insert(w.conn()).await?;
            set_follows(w.conn(), &id, &ids).await?;
            w.record(&[
                Event::SubscriberCreated {
                    subscriber_id: id.clone(),
                },
                Event::ConfirmationRequested { subscriber_id: id },
            ])
            .await?;
            Ok(Requested::ConfirmationSent)
        }
        Some(s) if s.row.state == SubscriberState::Active => Ok(Requested::AlreadyActive),
        Some(s) => {
            let id = s.id().clone();
            subscribers::Entity::update_many()
                .col_expr(
                    subscribers::Column::State,
                    Expr::value(SubscriberState::Unconfirmed),
                )
                .col_expr(subscribers::Column::ConfirmNonce, Expr::value(nonce()))
                .col_expr(subscribers::Column::BounceCount, Expr::value(0))
                .col_expr(subscribers::Column::UpdatedAt, Expr::value(w.now()))
                .filter(subscribers::Column::Id.eq(id.clone()))
                .exec(w.conn())
                .await?;
            set_follows(w.conn(), &id, &ids).await?;
            w.record(&[Event::ConfirmationRequested { subscriber_id: id }])
                .await?;
            Ok(Requested::ConfirmationSent)
        }
    }
}
