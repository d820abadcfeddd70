//! The maintenance scheduler's store side: the maintenances it watches, the notices it
//! made, and one write per maintenance that moves it (start, end), reminds its
//! followers, or flags its overrun. Each write re-reads the maintenance under the
//! page's write lock, so two instances on one database move a window once: the second
//! finds it moved already.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use super::{
    Actor, Result, Store,
    entity::{incidents as rows, maintenance_notices as notices},
    incidents::{self, Changes, Command},
};
use crate::domain::{
    ComponentStatus, Event, Incident, IncidentId, IncidentStatus, PageId,
    maintenance::{self, Due},
};

/// Maintenances a pass looks at, at most (those waiting or running are few).
const WATCHED: u64 = 1_000;

/// Maintenances waiting to start or running.
pub async fn watched(db: &impl ConnectionTrait, page_id: &PageId) -> Result<Vec<Incident>> {
    let ids: Vec<IncidentId> = rows::Entity::find()
        .select_only()
        .column(rows::Column::Id)
        .filter(rows::Column::PageId.eq(page_id.clone()))
        .filter(rows::Column::Status.is_in([
            IncidentStatus::Scheduled,
            IncidentStatus::InProgress,
            IncidentStatus::Verifying,
        ]))
        .filter(rows::Column::ScheduledFor.is_not_null())
        .limit(WATCHED)
        .into_tuple()
        .all(db)
        .await?;
    incidents::get_many(db, &ids).await
}

fn remind_key(minutes: u32) -> String {
    format!("remind:{minutes}")
}

/// The notices already made for `ids`: (incident, notice, at).
pub async fn made(
    db: &impl ConnectionTrait,
    ids: &[IncidentId],
) -> Result<HashSet<(IncidentId, String, DateTime<Utc>)>> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(500) {
        for n in notices::Entity::find()
            .filter(notices::Column::IncidentId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.insert((n.incident_id, n.notice, n.at));
        }
    }
    Ok(out)
}

/// What is due for `m` at `now`, given the notices made.
pub fn due_for(
    m: &Incident,
    now: DateTime<Utc>,
    made: &HashSet<(IncidentId, String, DateTime<Utc>)>,
) -> Vec<Due> {
    let Some(start) = m.scheduled_for else {
        return Vec::new();
    };
    let publish = m.plan.publish_at;
    maintenance::due(m, now, |min| {
        if min == maintenance::PUBLISH {
            return publish
                .is_some_and(|p| made.contains(&(m.id.clone(), "publish".to_owned(), p)));
        }
        made.contains(&(m.id.clone(), remind_key(min), start))
    })
}

/// Records a notice; false when it was made already.
async fn note(
    conn: &impl ConnectionTrait,
    id: &IncidentId,
    notice: String,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(matches!(
        notices::Entity::insert(notices::ActiveModel {
            incident_id: Set(id.clone()),
            notice: Set(notice),
            at: Set(at),
            created_at: Set(now),
        })
        .on_conflict_do_nothing_on([
            notices::Column::IncidentId,
            notices::Column::Notice,
            notices::Column::At,
        ])
        .exec_without_returning(conn)
        .await?,
        sea_orm::TryInsertResult::Inserted(1)
    ))
}

/// Does what is due for maintenance `id` at `now`, in one write. Returns what it did.
#[tracing::instrument(skip_all, fields(incident = %id))]
pub async fn advance(store: &Store, id: &IncidentId, now: DateTime<Utc>) -> Result<Vec<Due>> {
    let mut w = store.begin(&Actor::system("scheduler"), now).await?;
    // Under the page's write lock: what stands now, not what the pass saw.
    let m = incidents::get(w.conn(), id).await?;
    let made = made(w.conn(), std::slice::from_ref(id)).await?;
    let due = due_for(&m, now, &made);
    let mut done = Vec::new();
    for d in &due {
        match *d {
            Due::Remind { minutes } | Due::Skip { minutes } => {
                let Some(start) = m.scheduled_for else {
                    continue;
                };
                if note(w.conn(), id, remind_key(minutes), start, now).await?
                    && matches!(d, Due::Remind { .. })
                {
                    w.record(&[Event::MaintenanceReminder {
                        incident_id: id.clone(),
                        starts_at: start,
                        minutes,
                    }])
                    .await?;
                    tracing::info!(minutes, "reminding followers of a maintenance");
                }
            }
            Due::Start => {
                let c = Changes {
                    status: Some(IncidentStatus::InProgress),
                    deliver_notifications: Some(m.plan.notify_at_start),
                    components: if m.plan.to_maintenance_state {
                        m.components
                            .iter()
                            .map(|(c, _)| (c.clone(), Some(ComponentStatus::UnderMaintenance)))
                            .collect()
                    } else {
                        Vec::new()
                    },
                    ..Changes::default()
                };
                incidents::apply(&mut w, id, Command::Change(c)).await?;
                tracing::info!("maintenance started");
            }
            Due::End => {
                let c = Changes {
                    status: Some(IncidentStatus::Completed),
                    deliver_notifications: Some(m.plan.notify_at_end),
                    ..Changes::default()
                };
                incidents::apply(&mut w, id, Command::Change(c)).await?;
                tracing::info!("maintenance completed");
            }
            Due::Publish => {
                let Some(at) = m.plan.publish_at else {
                    continue;
                };
                if note(w.conn(), id, "publish".to_owned(), at, now).await? {
                    w.record(&[Event::MaintenancePublished {
                        incident_id: id.clone(),
                    }])
                    .await?;
                    tracing::info!("maintenance published");
                }
            }
            Due::Overrun => {
                let Some(end) = m.scheduled_until else {
                    continue;
                };
                if note(w.conn(), id, "overrun".to_owned(), end, now).await? {
                    let mut plan = m.plan.clone();
                    plan.overrun_at = Some(now);
                    rows::Entity::update_many()
                        .col_expr(
                            rows::Column::MaintenancePlan,
                            sea_orm::sea_query::Expr::value(serde_json::to_string(&plan).ok()),
                        )
                        .col_expr(
                            rows::Column::UpdatedAt,
                            sea_orm::sea_query::Expr::value(now),
                        )
                        .filter(rows::Column::Id.eq(id.clone()))
                        .exec(w.conn())
                        .await?;
                    w.record(&[Event::MaintenanceOverrun {
                        incident_id: id.clone(),
                    }])
                    .await?;
                    tracing::warn!("maintenance overran its window");
                }
            }
        }
        done.push(*d);
    }
    w.commit().await?;
    Ok(done)
}
