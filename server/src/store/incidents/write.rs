//! Load, apply, commit: one read of the incident, the facts of the components it names
//! or holds, the domain's decision, and one transaction that writes the new state, its
//! events and the audit record.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set, sea_query::Expr,
};

use super::read::get;
use super::{Changes, Command, Incident, IncidentUpdate, Outcome};
use crate::domain::incident::{Board, ComponentFacts, Fresh};
use crate::domain::{self, Event, holds};
use crate::domain::{ComponentId, IncidentId, IncidentStatus, UpdateId};
use crate::store::{
    Result, StoreError, Write,
    entity::{
        component_status_changes as history, components, incident_components as links,
        incident_updates as updates, incidents,
    },
    impact, new_id,
};

/// Opens an incident (or a maintenance) with its first update.
#[tracing::instrument(skip_all, fields(page = %w.page_id(), incident))]
pub async fn create(w: &mut Write, c: Changes) -> Result<Outcome> {
    let named: Vec<ComponentId> = c.components.iter().map(|(id, _)| id.clone()).collect();
    let board = board(w.conn(), w.page_id(), &named, None).await?;
    let fresh = Fresh {
        incident_id: IncidentId::new(new_id()),
        update_id: UpdateId::new(new_id()),
    };
    tracing::Span::current().record("incident", fresh.incident_id.as_str());
    let outcome = Incident::open(w.page_id().clone(), fresh, c, &board, w.now())?;
    commit(w, None, &outcome).await?;
    Ok(outcome)
}

/// Applies a command to an incident.
#[tracing::instrument(skip_all, fields(page = %w.page_id(), incident = %id))]
pub async fn apply(w: &mut Write, id: &IncidentId, command: Command) -> Result<Outcome> {
    let before = get(w.conn(), id).await?;
    let involved: Vec<ComponentId> = command
        .named_components()
        .chain(before.components.iter().map(|(c, _)| c))
        .cloned()
        .collect();
    let board = board(w.conn(), w.page_id(), &involved, Some(id)).await?;
    let outcome = before.apply(command, &board, UpdateId::new(new_id()), w.now())?;
    commit(w, Some(&before), &outcome).await?;
    Ok(outcome)
}

/// The facts of `ids`: name, live status, whether a group, and the live incidents
/// (other than `exclude`) that hold each. Only live incidents hold, so those are read
/// first (a few, by status) rather than every incident that ever affected a component.
/// The id a previewed incident and update stand under.
/// Not a shape Herald gives ids (12 letters and digits), and no route's fixed segment:
/// `/incidents/preview-only` finds nothing.
pub const PREVIEW_ID: &str = "preview-only";

/// What [`create`] would decide, read from `db` and written nowhere (for previews): the
/// new incident's ids are stand-ins.
pub async fn preview_create(
    db: &impl sea_orm::ConnectionTrait,
    page_id: &crate::domain::PageId,
    c: Changes,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Outcome> {
    let named: Vec<ComponentId> = c.components.iter().map(|(id, _)| id.clone()).collect();
    let board = board(db, page_id, &named, None).await?;
    let fresh = Fresh {
        incident_id: IncidentId::new(PREVIEW_ID),
        update_id: UpdateId::new(PREVIEW_ID),
    };
    Ok(Incident::open(page_id.clone(), fresh, c, &board, now)?)
}

/// What [`apply`] would decide, written nowhere (for previews).
pub async fn preview_apply(
    db: &impl sea_orm::ConnectionTrait,
    page_id: &crate::domain::PageId,
    id: &IncidentId,
    command: Command,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Outcome> {
    let before = get(db, id).await?;
    let involved: Vec<ComponentId> = command
        .named_components()
        .chain(before.components.iter().map(|(c, _)| c))
        .cloned()
        .collect();
    let board = board(db, page_id, &involved, Some(id)).await?;
    Ok(before.apply(command, &board, UpdateId::new(PREVIEW_ID), now)?)
}

async fn board(
    conn: &impl sea_orm::ConnectionTrait,
    page_id: &crate::domain::PageId,
    ids: &[ComponentId],
    exclude: Option<&IncidentId>,
) -> Result<Board> {
    let mut board = Board::new();
    let unique: Vec<ComponentId> = {
        let mut seen = HashSet::new();
        ids.iter().filter(|id| seen.insert(*id)).cloned().collect()
    };
    if unique.is_empty() {
        return Ok(board);
    }
    for chunk in unique.chunks(500) {
        for c in components::Entity::find()
            .filter(components::Column::Id.is_in(chunk.iter().cloned()))
            .filter(components::Column::DeletedAt.is_null())
            .all(conn)
            .await?
        {
            board.insert(
                c.id,
                ComponentFacts {
                    name: c.name,
                    status: c.status,
                    is_group: c.is_group,
                    holds: Vec::new(),
                },
            );
        }
    }
    let mut live = incidents::Entity::find()
        .select_only()
        .column(incidents::Column::Id)
        .column(incidents::Column::Status)
        .filter(incidents::Column::PageId.eq(page_id.clone()))
        .filter(incidents::Column::Status.is_in(holds::live_statuses()));
    if let Some(ex) = exclude {
        live = live.filter(incidents::Column::Id.ne(ex.clone()));
    }
    let live: HashMap<IncidentId, IncidentStatus> = live
        .into_tuple::<(IncidentId, IncidentStatus)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let live_ids: Vec<IncidentId> = live.keys().cloned().collect();
    for holders in live_ids.chunks(500) {
        for l in links::Entity::find()
            .filter(links::Column::IncidentId.is_in(holders.iter().cloned()))
            .filter(links::Column::ComponentId.is_in(unique.iter().cloned()))
            .all(conn)
            .await?
        {
            if let (Some(f), Some(status)) =
                (board.get_mut(&l.component_id), live.get(&l.incident_id))
            {
                f.holds.push((*status, l.status));
            }
        }
    }
    Ok(board)
}

fn incident_row(i: &Incident) -> incidents::ActiveModel {
    incidents::ActiveModel {
        id: Set(i.id.clone()),
        page_id: Set(i.page_id.clone()),
        name: Set(i.name.clone()),
        status: Set(i.status),
        impact: Set(i.impact),
        impact_override: Set(i.impact_override),
        started_at: Set(i.started_at),
        created_at: Set(i.created_at),
        updated_at: Set(i.updated_at),
        monitoring_at: Set(i.monitoring_at),
        resolved_at: Set(i.resolved_at),
        next_update_due_at: Set(i.next_update_due_at),
        postmortem_body: Set(i.postmortem_body.clone()),
        postmortem_body_last_updated_at: Set(i.postmortem_body_last_updated_at),
        postmortem_published_at: Set(i.postmortem_published_at),
        postmortem_published_body: Set(i.postmortem_published_body.clone()),
        postmortem_ignored: Set(i.postmortem_ignored),
        postmortem_notified_subscribers: Set(i.postmortem_notified_subscribers),
        scheduled_for: Set(i.scheduled_for),
        scheduled_until: Set(i.scheduled_until),
        scheduled_remind_prior: Set(i.scheduled_remind_prior),
        scheduled_auto_in_progress: Set(i.scheduled_auto_in_progress),
        scheduled_auto_completed: Set(i.scheduled_auto_completed),
        metadata: Set(i.metadata.to_string()),
        backfilled: Set(i.backfilled),
        maintenance_plan: Set(i
            .scheduled_for
            .and_then(|_| serde_json::to_string(&i.plan).ok())),
    }
}

fn update_row(u: &IncidentUpdate) -> Result<updates::ActiveModel> {
    let affected = match &u.affected_components {
        Some(a) => Some(serde_json::to_string(a).map_err(|e| StoreError::Corrupt(e.to_string()))?),
        None => None,
    };
    Ok(updates::ActiveModel {
        id: Set(u.id.clone()),
        incident_id: Set(u.incident_id.clone()),
        status: Set(u.status),
        body: Set(u.body.clone()),
        created_at: Set(u.created_at),
        updated_at: Set(u.updated_at),
        display_at: Set(u.display_at),
        deliver_notifications: Set(u.deliver_notifications),
        affected_components: Set(affected),
        template: Set(u.template.clone()),
        next_update_due_at: Set(u.next_update_due_at),
        custom_tweet: Set(u.custom_tweet.clone()),
        ordinal: Set(u.ordinal),
    })
}

/// Writes what changed between `before` and the outcome, then its events and audit.
async fn commit(w: &mut Write, before: Option<&Incident>, out: &Outcome) -> Result<()> {
    if out.unchanged {
        return Ok(());
    }
    let after = &out.incident;
    let db = w.conn();
    if out.deleted {
        incidents::Entity::delete_by_id(after.id.clone())
            .exec(db)
            .await?;
        crate::store::components::purge_unreferenced(db).await?;
    } else if out.created {
        incidents::Entity::insert(incident_row(after))
            .exec(db)
            .await?;
        updates::Entity::insert_many(
            after
                .updates
                .iter()
                .map(update_row)
                .collect::<Result<Vec<_>>>()?,
        )
        .exec(db)
        .await?;
    } else {
        incidents::Entity::update(incident_row(after))
            .exec(db)
            .await?;
        // The updates that are new or changed (posted, edited, or given components).
        let old = before.map(|b| b.updates.as_slice()).unwrap_or(&[]);
        for u in &after.updates {
            match old.iter().find(|o| o.id == u.id) {
                None => {
                    updates::Entity::insert(update_row(u)?).exec(db).await?;
                }
                Some(o) if o != u => {
                    updates::Entity::update(update_row(u)?).exec(db).await?;
                }
                Some(_) => {}
            }
        }
    }
    if !out.deleted {
        let old = before.map(|b| b.components.as_slice()).unwrap_or(&[]);
        for (cid, status) in &after.components {
            match old.iter().find(|(c, _)| c == cid) {
                Some((_, s)) if s == status => {}
                Some(_) => {
                    links::Entity::update_many()
                        .col_expr(links::Column::Status, Expr::value(*status))
                        .filter(links::Column::IncidentId.eq(after.id.clone()))
                        .filter(links::Column::ComponentId.eq(cid.clone()))
                        .exec(db)
                        .await?;
                }
                None => {
                    links::ActiveModel {
                        incident_id: Set(after.id.clone()),
                        component_id: Set(cid.clone()),
                        status: Set(*status),
                    }
                    .insert(db)
                    .await?;
                }
            }
        }
    }
    let now = w.now();
    for c in &out.component_changes {
        components::Entity::update_many()
            .col_expr(components::Column::Status, Expr::value(c.to))
            .col_expr(components::Column::UpdatedAt, Expr::value(now))
            .filter(components::Column::Id.eq(c.component_id.clone()))
            .exec(db)
            .await?;
    }
    if !out.component_changes.is_empty() {
        history::Entity::insert_many(out.component_changes.iter().map(|c| history::ActiveModel {
            component_id: Set(c.component_id.clone()),
            old_status: Set(c.from),
            new_status: Set(c.to),
            incident_id: Set(Some(after.id.clone())),
            at: Set(now),
            ..Default::default()
        }))
        .exec(db)
        .await?;
    }
    // What the incident did to its components, and when, follows its record.
    let moved: Vec<ComponentId> = out
        .component_changes
        .iter()
        .map(|c| c.component_id.clone())
        .collect();
    impact::end_by_hand(db, &moved, now).await?;
    let periods = if out.deleted {
        Vec::new()
    } else {
        domain::impact::periods(after)
    };
    let mut events = out.events.clone();
    if impact::replace(db, &after.id, &periods).await? {
        events.push(Event::ImpactChanged {
            incident_id: after.id.clone(),
        });
    }
    w.record(&events).await?;
    let a = &out.audit;
    w.audit(a.action, a.subject_type, &a.subject_id, a.detail.clone())
        .await?;
    Ok(())
}
