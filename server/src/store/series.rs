//! Recurring maintenance in the store: series, and the occurrences made from them (each
//! an ordinary maintenance). The scheduler makes occurrences ahead ([`materialize`]);
//! editing a series changes its future occurrences not yet started (and cancels those
//! its new rule drops); ending it cancels them.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{
    Actor, Result, Store, StoreError, Write,
    entity::{maintenance_series as rows, series_occurrences as occ},
    incidents::{self, Changes, Command},
    new_id,
};
use crate::domain::{
    DomainError, IncidentId, IncidentStatus, PageId,
    series::{Rule, Template, horizon, local_start},
};

/// Occurrences made per series per pass, at most.
const PER_PASS: u16 = 20;

#[derive(Debug, Clone)]
pub struct Series {
    pub id: String,
    pub rrule: String,
    pub starts_at_local: NaiveDateTime,
    pub time_zone: String,
    pub duration_minutes: u32,
    pub template: Template,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Series {
    pub fn rule(&self) -> std::result::Result<Rule, DomainError> {
        Rule::new(
            &self.rrule,
            self.starts_at_local,
            &self.time_zone,
            self.duration_minutes,
        )
    }
}

/// A row that cannot be read is skipped with a warning by the scheduler, never fatal.
fn from_row(m: rows::Model) -> std::result::Result<Series, StoreError> {
    Ok(Series {
        starts_at_local: local_start("starts_at_local", &m.starts_at_local)?,
        template: serde_json::from_str(&m.template)
            .map_err(|e| StoreError::Corrupt(format!("series {} template: {e}", m.id)))?,
        duration_minutes: u32::try_from(m.duration_minutes).unwrap_or(60),
        id: m.id,
        rrule: m.rrule,
        time_zone: m.time_zone,
        created_at: m.created_at,
        updated_at: m.updated_at,
        ended_at: m.ended_at,
    })
}

/// What a create or an edit gives (absent: unchanged on an edit).
#[derive(Debug, Clone, Default)]
pub struct SeriesChanges {
    pub rrule: Option<String>,
    pub starts_at_local: Option<String>,
    pub time_zone: Option<String>,
    pub duration_minutes: Option<u32>,
    pub template: Option<Template>,
}

/// Checks that the template makes a valid maintenance (names, components), as the
/// first occurrence would be made.
async fn check_template(w: &Write, t: &Template, rule: &Rule) -> Result<()> {
    let start = w.now() + chrono::Duration::days(1);
    incidents::preview_create(
        w.conn(),
        w.page_id(),
        t.occurrence(start, rule.duration),
        w.now(),
    )
    .await?;
    Ok(())
}

#[tracing::instrument(skip_all, fields(page = %w.page_id()))]
pub async fn create(w: &mut Write, c: SeriesChanges) -> Result<Series> {
    let missing = |f: &str| DomainError::invalid(f, format!("{f} is required"));
    let rrule = c.rrule.ok_or_else(|| missing("rrule"))?;
    let start = local_start(
        "starts_at_local",
        &c.starts_at_local
            .ok_or_else(|| missing("starts_at_local"))?,
    )?;
    let tz = c.time_zone.unwrap_or_else(|| "Etc/UTC".to_owned());
    let duration = c.duration_minutes.unwrap_or(60);
    let template = c.template.ok_or_else(|| missing("name"))?;
    let rule = Rule::new(&rrule, start, &tz, duration)?;
    check_template(w, &template, &rule).await?;
    let id = new_id();
    let m = rows::ActiveModel {
        id: Set(id.clone()),
        page_id: Set(w.page_id().clone()),
        rrule: Set(rrule.trim().to_owned()),
        starts_at_local: Set(start.format("%Y-%m-%dT%H:%M:%S").to_string()),
        time_zone: Set(tz),
        duration_minutes: Set(i32::try_from(duration).unwrap_or(60)),
        template: Set(
            serde_json::to_string(&template).map_err(|e| StoreError::Corrupt(e.to_string()))?
        ),
        created_at: Set(w.now()),
        updated_at: Set(w.now()),
        ended_at: Set(None),
    }
    .insert(w.conn())
    .await?;
    w.audit(
        "maintenance_series.create",
        "maintenance_series",
        &id,
        serde_json::json!({"rrule": m.rrule, "starts_at_local": m.starts_at_local, "time_zone": m.time_zone}),
    )
    .await?;
    from_row(m)
}

pub async fn list(db: &impl ConnectionTrait, page_id: &PageId) -> Result<Vec<Series>> {
    rows::Entity::find()
        .filter(rows::Column::PageId.eq(page_id.clone()))
        .order_by_asc(rows::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// The newest `limit` series, newest first (the console's list).
pub async fn list_recent(
    db: &impl ConnectionTrait,
    page_id: &PageId,
    limit: u64,
) -> Result<Vec<Series>> {
    rows::Entity::find()
        .filter(rows::Column::PageId.eq(page_id.clone()))
        .order_by_desc(rows::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<Series> {
    rows::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("maintenance series", id))
        .and_then(from_row)
}

/// The series' occurrences made so far: (start, maintenance), oldest first.
pub async fn occurrences(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Vec<(DateTime<Utc>, IncidentId)>> {
    Ok(occ::Entity::find()
        .filter(occ::Column::SeriesId.eq(id.to_owned()))
        .order_by_asc(occ::Column::StartsAt)
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.starts_at, o.incident_id))
        .collect())
}

/// The `limit` latest occurrences of series `id` (newest first) and how many it has
/// made in all.
pub async fn recent_occurrences(
    db: &impl ConnectionTrait,
    id: &str,
    limit: u64,
) -> Result<(Vec<(DateTime<Utc>, IncidentId)>, u64)> {
    use sea_orm::PaginatorTrait;
    let all = occ::Entity::find()
        .filter(occ::Column::SeriesId.eq(id.to_owned()))
        .count(db)
        .await?;
    let recent = occ::Entity::find()
        .filter(occ::Column::SeriesId.eq(id.to_owned()))
        .order_by_desc(occ::Column::StartsAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.starts_at, o.incident_id))
        .collect();
    Ok((recent, all))
}

/// Future occurrences not yet started: (start, maintenance).
async fn waiting(w: &Write, id: &str) -> Result<Vec<(DateTime<Utc>, IncidentId)>> {
    let mut out = Vec::new();
    for (start, incident) in occurrences(w.conn(), id).await? {
        if start <= w.now() {
            continue;
        }
        match incidents::get(w.conn(), &incident).await {
            Ok(i) if i.status == IncidentStatus::Scheduled => out.push((start, incident)),
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

async fn cancel(w: &mut Write, incident: &IncidentId, why: &str) -> Result<()> {
    let c = Changes {
        status: Some(IncidentStatus::Cancelled),
        body: Some(why.to_owned()),
        ..Changes::default()
    };
    incidents::apply(w, incident, Command::Change(c)).await?;
    Ok(())
}

/// Edits a series; its future occurrences follow (those its rule no longer has are
/// cancelled, the rest take the new name, window and settings without notifying).
#[tracing::instrument(skip_all, fields(series = %id))]
pub async fn update(w: &mut Write, id: &str, c: SeriesChanges) -> Result<Series> {
    let before = get(w.conn(), id).await?;
    if before.ended_at.is_some() {
        return Err(DomainError::invalid("maintenance_series", "this series has ended").into());
    }
    let start = match &c.starts_at_local {
        Some(s) => local_start("starts_at_local", s)?,
        None => before.starts_at_local,
    };
    let rrule = c.rrule.clone().unwrap_or_else(|| before.rrule.clone());
    let tz = c
        .time_zone
        .clone()
        .unwrap_or_else(|| before.time_zone.clone());
    let duration = c.duration_minutes.unwrap_or(before.duration_minutes);
    let template = c
        .template
        .clone()
        .unwrap_or_else(|| before.template.clone());
    let rule = Rule::new(&rrule, start, &tz, duration)?;
    check_template(w, &template, &rule).await?;
    let mut am: rows::ActiveModel = rows::Entity::find_by_id(id.to_owned())
        .one(w.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("maintenance series", id))?
        .into();
    am.rrule = Set(rrule.trim().to_owned());
    am.starts_at_local = Set(start.format("%Y-%m-%dT%H:%M:%S").to_string());
    am.time_zone = Set(tz);
    am.duration_minutes = Set(i32::try_from(duration).unwrap_or(60));
    am.template =
        Set(serde_json::to_string(&template).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    am.updated_at = Set(w.now());
    let m = am.update(w.conn()).await?;
    let now = w.now();
    let keep = rule.starts(now, now + horizon(), 500);
    for (at, incident) in waiting(w, id).await? {
        if keep.contains(&at) {
            let mut changes = template.occurrence(at, rule.duration);
            // The occurrence stays scheduled; its text is its own once made.
            changes.status = None;
            changes.body = None;
            changes.deliver_notifications = Some(false);
            incidents::apply(w, &incident, Command::Change(changes)).await?;
        } else {
            cancel(
                w,
                &incident,
                "This occurrence is no longer part of the recurring maintenance.",
            )
            .await?;
        }
    }
    w.audit(
        "maintenance_series.update",
        "maintenance_series",
        id,
        serde_json::json!({"rrule": c.rrule, "starts_at_local": c.starts_at_local, "time_zone": c.time_zone, "duration_minutes": c.duration_minutes}),
    )
    .await?;
    from_row(m)
}

/// Ends a series: no more occurrences; those not yet started are cancelled.
#[tracing::instrument(skip_all, fields(series = %id))]
pub async fn end(w: &mut Write, id: &str) -> Result<Series> {
    let before = get(w.conn(), id).await?;
    for (_, incident) in waiting(w, id).await? {
        cancel(
            w,
            &incident,
            "This recurring maintenance has been cancelled.",
        )
        .await?;
    }
    let mut am: rows::ActiveModel = rows::Entity::find_by_id(id.to_owned())
        .one(w.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("maintenance series", id))?
        .into();
    am.ended_at = Set(Some(before.ended_at.unwrap_or(w.now())));
    am.updated_at = Set(w.now());
    let m = am.update(w.conn()).await?;
    w.audit(
        "maintenance_series.end",
        "maintenance_series",
        id,
        serde_json::json!({}),
    )
    .await?;
    from_row(m)
}

/// Makes the occurrences due within the horizon that are not made yet; returns how
/// many were made. One write per occurrence, under the page's lock, keyed by series and
/// start: two instances make each once.
#[tracing::instrument(skip_all)]
pub async fn materialize(store: &Store, now: DateTime<Utc>) -> Result<usize> {
    let mut made = 0;
    let all = rows::Entity::find()
        .filter(rows::Column::PageId.eq(store.page_id().clone()))
        .filter(rows::Column::EndedAt.is_null())
        .all(store.db())
        .await?;
    for row in all {
        let id = row.id.clone();
        let series = match from_row(row) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(series = %id, error = %e, "a maintenance series that cannot be read is skipped");
                continue;
            }
        };
        let rule = match series.rule() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(series = %id, error = %e, "a maintenance series whose rule no longer parses is skipped");
                continue;
            }
        };
        let existing: Vec<DateTime<Utc>> = occurrences(store.db(), &id)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        for start in rule.starts(now, now + horizon(), PER_PASS) {
            if existing.contains(&start) {
                continue;
            }
            let mut w = store.begin(&Actor::system("scheduler"), now).await?;
            let taken = occ::Entity::find_by_id((id.clone(), start))
                .one(w.conn())
                .await?
                .is_some();
            if taken {
                continue;
            }
            let mut changes = series.template.occurrence(start, rule.duration);
            changes.metadata = Some(serde_json::json!({"herald_series_id": id}));
            let out = match incidents::create(&mut w, changes).await {
                Ok(out) => out,
                Err(e) => {
                    // A component deleted since, say: this occurrence waits; the rest go on.
                    tracing::warn!(series = %id, %start, error = %e, "an occurrence could not be made");
                    continue;
                }
            };
            occ::Entity::insert(occ::ActiveModel {
                series_id: Set(id.clone()),
                starts_at: Set(start),
                incident_id: Set(out.incident.id.clone()),
                created_at: Set(now),
            })
            .exec_without_returning(w.conn())
            .await?;
            w.commit().await?;
            made += 1;
        }
    }
    Ok(made)
}
