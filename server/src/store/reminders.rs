//! Reminders of promised updates: an open incident whose next update is due within the
//! page's lead time gets one reminder per promise. The `promise_reminders` row, written
//! in the same transaction as the reminder's event (and so its outbox entry), is what
//! makes it once: however many instances look, and however often they restart.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    Actor, Result, Store,
    entity::{incidents, promise_reminders},
};
use crate::domain::{Event, IncidentId, IncidentStatus, PageId};

/// The statuses in which an incident's promise counts (the same as "overdue").
pub const PROMISING: [IncidentStatus; 3] = [
    IncidentStatus::Investigating,
    IncidentStatus::Identified,
    IncidentStatus::Monitoring,
];

/// Reminders made per pass (the rest wait for the next one).
const PER_PASS: u64 = 100;

/// Open incidents whose promise falls due by `now + lead`, with the due time.
async fn due(
    db: &impl ConnectionTrait,
    page_id: &PageId,
    now: DateTime<Utc>,
    lead: Duration,
) -> Result<Vec<(IncidentId, DateTime<Utc>)>> {
    let rows = incidents::Entity::find()
        .select_only()
        .column(incidents::Column::Id)
        .column(incidents::Column::NextUpdateDueAt)
        .filter(incidents::Column::PageId.eq(page_id.clone()))
        .filter(incidents::Column::Status.is_in(PROMISING))
        .filter(incidents::Column::NextUpdateDueAt.lte(now + lead))
        .order_by_asc(incidents::Column::NextUpdateDueAt)
        .into_tuple::<(IncidentId, Option<DateTime<Utc>>)>()
        .all(db)
        .await?;
    let mut out = Vec::new();
    for (id, at) in rows {
        let Some(at) = at else { continue };
        let made = promise_reminders::Entity::find_by_id((id.clone(), at))
            .one(db)
            .await?
            .is_some();
        if !made {
            out.push((id, at));
            if out.len() as u64 >= PER_PASS {
                break;
            }
        }
    }
    Ok(out)
}

/// When the next reminder falls due after `now`: the earliest promise more than `lead`
/// away, minus `lead`.
pub async fn next(
    db: &impl ConnectionTrait,
    page_id: &PageId,
    now: DateTime<Utc>,
    lead: Duration,
) -> Result<Option<DateTime<Utc>>> {
    let at = incidents::Entity::find()
        .select_only()
        .column(incidents::Column::NextUpdateDueAt)
        .filter(incidents::Column::PageId.eq(page_id.clone()))
        .filter(incidents::Column::Status.is_in(PROMISING))
        .filter(incidents::Column::NextUpdateDueAt.gt(now + lead))
        .order_by_asc(incidents::Column::NextUpdateDueAt)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(db)
        .await?
        .flatten();
    Ok(at.map(|t| t - lead))
}

/// Makes the reminders due at `now`: for each, in one write, the `promise_reminders`
/// row and the `incident.reminder_due` event (which goes to the outbox). Returns how
/// many were made.
#[tracing::instrument(skip_all)]
pub async fn remind(store: &Store, now: DateTime<Utc>, lead: Duration) -> Result<usize> {
    let mut made = 0;
    for (id, at) in due(store.db(), store.page_id(), now, lead).await? {
        let mut w = store.begin(&Actor::system("reminders"), now).await?;
        // Under the page's write lock: the promise still stands and nobody reminded it.
        let still = incidents::Entity::find_by_id(id.clone())
            .filter(incidents::Column::Status.is_in(PROMISING))
            .filter(incidents::Column::NextUpdateDueAt.eq(at))
            .one(w.conn())
            .await?
            .is_some();
        let inserted = still
            && matches!(
                promise_reminders::Entity::insert(promise_reminders::ActiveModel {
                    incident_id: sea_orm::Set(id.clone()),
                    due_at: sea_orm::Set(at),
                    created_at: sea_orm::Set(now),
                })
                .on_conflict_do_nothing_on([
                    promise_reminders::Column::IncidentId,
                    promise_reminders::Column::DueAt,
                ])
                .exec_without_returning(w.conn())
                .await?,
                sea_orm::TryInsertResult::Inserted(1)
            );
        if inserted {
            w.record(&[Event::PromiseReminder {
                incident_id: id.clone(),
                due_at: at,
            }])
            .await?;
            tracing::info!(incident = %id, due_at = %at, "reminding the responders of a promised update");
            made += 1;
        }
        w.commit().await?;
    }
    Ok(made)
}
