//! Impact periods as stored: each incident's (derived by `domain::impact` and replaced in
//! the transaction that changes the incident) and those of statuses set by hand (a
//! manual status lasts until the component's next change of any kind).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, sea_query::Expr,
};

use super::{
    Result,
    entity::{component_status_changes as changes, impact_periods as periods, incidents, pages},
    incidents::get_many,
};
use crate::domain::{ComponentId, ComponentStatus, IncidentId, PageId, Period, impact};

/// The version of the rules in `domain::impact`: a database whose periods were derived
/// by an older one is derived again at start.
pub const DERIVED_VERSION: i32 = 1;

/// The most periods one read returns (a component's whole life, the uptime API's range).
pub const MAX_READ: u64 = 50_000;

impl From<periods::Model> for Period {
    fn from(m: periods::Model) -> Self {
        Period {
            incident_id: m.incident_id,
            component_id: m.component_id,
            status: m.status,
            start: m.starts_at,
            end: m.ends_at,
        }
    }
}

fn row(p: &Period) -> periods::ActiveModel {
    periods::ActiveModel {
        incident_id: Set(p.incident_id.clone()),
        component_id: Set(p.component_id.clone()),
        status: Set(p.status),
        starts_at: Set(p.start),
        ends_at: Set(p.end),
        ..Default::default()
    }
}

async fn insert(db: &impl ConnectionTrait, all: &[Period]) -> Result<()> {
    for chunk in all.chunks(200) {
        periods::Entity::insert_many(chunk.iter().map(row))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The stored periods of `incident`, in the order `domain::impact::periods` gives.
async fn of_incident(db: &impl ConnectionTrait, incident: &IncidentId) -> Result<Vec<Period>> {
    Ok(periods::Entity::find()
        .filter(periods::Column::IncidentId.eq(incident.clone()))
        .order_by_asc(periods::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Period::from)
        .collect())
}

/// Makes `fresh` the periods of `incident`; whether they changed.
pub async fn replace(
    db: &impl ConnectionTrait,
    incident: &IncidentId,
    fresh: &[Period],
) -> Result<bool> {
    let stored = of_incident(db, incident).await?;
    if stored == fresh {
        return Ok(false);
    }
    periods::Entity::delete_many()
        .filter(periods::Column::IncidentId.eq(incident.clone()))
        .exec(db)
        .await?;
    insert(db, fresh).await?;
    Ok(true)
}

/// Ends the statuses set by hand on `components` at `at` (their status changed).
pub async fn end_by_hand(
    db: &impl ConnectionTrait,
    components: &[ComponentId],
    at: DateTime<Utc>,
) -> Result<()> {
    if components.is_empty() {
        return Ok(());
    }
    periods::Entity::update_many()
        .col_expr(periods::Column::EndsAt, Expr::value(Some(at)))
        .filter(periods::Column::IncidentId.is_null())
        .filter(periods::Column::EndsAt.is_null())
        .filter(periods::Column::ComponentId.is_in(components.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

/// A status set by hand at `at`: the one before ends, this one lasts until the next.
pub async fn set_by_hand(
    db: &impl ConnectionTrait,
    component: &ComponentId,
    status: ComponentStatus,
    at: DateTime<Utc>,
) -> Result<()> {
    end_by_hand(db, std::slice::from_ref(component), at).await?;
    if status != ComponentStatus::Operational {
        insert(
            db,
            &[Period {
                incident_id: None,
                component_id: component.clone(),
                status,
                start: at,
                end: None,
            }],
        )
        .await?;
    }
    Ok(())
}

/// Forgets the periods set by hand on a component that no longer exists.
pub async fn forget_component(db: &impl ConnectionTrait, component: &ComponentId) -> Result<()> {
    periods::Entity::delete_many()
        .filter(periods::Column::IncidentId.is_null())
        .filter(periods::Column::ComponentId.eq(component.clone()))
        .exec(db)
        .await?;
    Ok(())
}

/// Periods that cover any of `[from, to)`, of `components` (all when `None`), oldest
/// first, at most [`MAX_READ`].
pub async fn overlapping(
    db: &impl ConnectionTrait,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    components: Option<&[ComponentId]>,
) -> Result<Vec<Period>> {
    let mut q = periods::Entity::find()
        .filter(periods::Column::StartsAt.lt(to))
        .filter(
            Condition::any()
                .add(periods::Column::EndsAt.is_null())
                .add(periods::Column::EndsAt.gt(from)),
        );
    if let Some(ids) = components {
        q = q.filter(periods::Column::ComponentId.is_in(ids.iter().cloned()));
    }
    Ok(q.order_by_asc(periods::Column::StartsAt)
        .order_by_asc(periods::Column::Id)
        .limit(MAX_READ)
        .all(db)
        .await?
        .into_iter()
        .map(Period::from)
        .collect())
}

/// The names of `ids`, for tooltips and the uptime API.
pub async fn incident_names(
    db: &impl ConnectionTrait,
    ids: &[IncidentId],
) -> Result<HashMap<IncidentId, String>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        for (id, name) in incidents::Entity::find()
            .select_only()
            .column(incidents::Column::Id)
            .column(incidents::Column::Name)
            .filter(incidents::Column::Id.is_in(chunk.iter().cloned()))
            .into_tuple::<(IncidentId, String)>()
            .all(db)
            .await?
        {
            out.insert(id, name);
        }
    }
    Ok(out)
}

/// Periods set by hand, from the status history: a change made outside any incident
/// lasts until the component's next change.
fn by_hand(history: &[changes::Model]) -> Vec<Period> {
    let mut open: HashMap<&ComponentId, Period> = HashMap::new();
    let mut out = Vec::new();
    for ch in history {
        if let Some(mut p) = open.remove(&ch.component_id)
            && ch.at > p.start
        {
            p.end = Some(ch.at);
            out.push(p);
        }
        if ch.incident_id.is_none() && ch.new_status != ComponentStatus::Operational {
            open.insert(
                &ch.component_id,
                Period {
                    incident_id: None,
                    component_id: ch.component_id.clone(),
                    status: ch.new_status,
                    start: ch.at,
                    end: None,
                },
            );
        }
    }
    out.extend(open.into_values());
    out
}

/// Derives every period again when the stored ones come from older rules (or from
/// before periods existed). Runs at start, inside the start-up lock.
pub async fn derive_if_stale(db: &impl ConnectionTrait, page: &PageId) -> Result<bool> {
    let version = pages::Entity::find_by_id(page.clone())
        .select_only()
        .column(pages::Column::DerivedVersion)
        .into_tuple::<i32>()
        .one(db)
        .await?
        .unwrap_or(0);
    if version >= DERIVED_VERSION {
        return Ok(false);
    }
    periods::Entity::delete_many().exec(db).await?;
    let ids: Vec<IncidentId> = incidents::Entity::find()
        .select_only()
        .column(incidents::Column::Id)
        .filter(incidents::Column::PageId.eq(page.clone()))
        .order_by_asc(incidents::Column::CreatedAt)
        .into_tuple::<IncidentId>()
        .all(db)
        .await?;
    for chunk in ids.chunks(200) {
        let derived: Vec<Period> = get_many(db, chunk)
            .await?
            .iter()
            .flat_map(impact::periods)
            .collect();
        insert(db, &derived).await?;
    }
    let history = changes::Entity::find()
        .order_by_asc(changes::Column::At)
        .order_by_asc(changes::Column::Id)
        .all(db)
        .await?;
    insert(db, &by_hand(&history)).await?;
    pages::Entity::update_many()
        .col_expr(pages::Column::DerivedVersion, Expr::value(DERIVED_VERSION))
        .filter(pages::Column::Id.eq(page.clone()))
        .exec(db)
        .await?;
    Ok(true)
}
