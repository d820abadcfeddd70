//! Reading what the public side shows, at a cost that follows what changed rather than
//! the page's history: the event log since the previous snapshot says which incidents
//! changed; only those are read again and put in their place in the lists. The page and
//! the components (a few rows) are read every time; the uptime history when a status
//! changed or the day turned; everything when the log cannot say (a first build, a gap
//! of many events, an event this version does not know).

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, Duration, Utc};

use crate::domain::{Event, Incident, IncidentId};
use crate::render::{markdown, pages, pages::Data, statuspage::PageCtx};
use crate::store::{
    Store, StoreError, components, events, impact,
    incidents::{self, Filter},
    pages as page_store,
};

/// How many of the newest incidents and maintenances the snapshot holds, and of each
/// kind for `incidents.json` and `scheduled-maintenances.json`.
const RECENT: u64 = 100;
const OF_EACH: u64 = 50;
/// Open incidents and maintenance shown at most.
const OPEN: u64 = 100;
/// Past this many events since the last build, everything is read again.
const EVENTS_READ: u64 = 1_000;

/// What changed since the previous snapshot, up to event `version`.
#[derive(Debug, Default)]
pub struct Changed {
    /// The log's head when it was read: the new snapshot's version. Events after it are
    /// the next build's, even if their effects are already in what this one reads.
    pub version: i64,
    /// Read everything.
    pub everything: bool,
    /// The page's settings or the components (every page's frame).
    pub frame: bool,
    /// A component's live status (the uptime history).
    pub statuses: bool,
    pub incidents: HashSet<IncidentId>,
    /// Incidents created and deleted, for the count.
    pub created: u64,
    pub deleted: u64,
    /// The last event readers can see among those read, if any.
    pub public_version: Option<i64>,
}

impl Changed {
    /// Reads the event log after `since`.
    pub async fn since(store: &Store, since: Option<i64>) -> Result<Changed, StoreError> {
        let version = events::latest_seq(store.db()).await?;
        let everything = Changed {
            version,
            everything: true,
            ..Changed::default()
        };
        let Some(since) = since else {
            return Ok(everything);
        };
        let events = match events::list_after(store.db(), since, EVENTS_READ).await {
            Ok(e) if (e.len() as u64) < EVENTS_READ => e,
            _ => return Ok(everything),
        };
        let mut c = Changed {
            version,
            ..Changed::default()
        };
        for r in events.into_iter().filter(|r| r.seq <= version) {
            let Some(e) = r.event else {
                return Ok(everything);
            };
            if e.is_public() {
                c.public_version = Some(r.seq);
            }
            match &e {
                Event::ComponentStatusChanged { .. } | Event::ImpactChanged { .. } => {
                    c.statuses = true
                }
                Event::IncidentCreated { .. } => c.created += 1,
                Event::IncidentDeleted { .. } => {
                    c.deleted += 1;
                    c.statuses = true;
                }
                _ => {}
            }
            match e.incident_id() {
                Some(id) => {
                    c.incidents.insert(id.clone());
                }
                None if !matches!(e, Event::ComponentStatusChanged { .. }) => c.frame = true,
                None => {}
            }
        }
        Ok(c)
    }
}

/// `list` with the `fresh` incidents (`None`: deleted) put in their place: those that
/// left it removed, those that belong added, newest first, at most `cap`. `None` when
/// the list was full and lost one: what follows its last is not known here.
fn splice(
    list: &[Incident],
    fresh: &HashMap<IncidentId, Option<Incident>>,
    filter: Filter,
    cap: u64,
) -> Option<Vec<Incident>> {
    let mut left = false;
    let mut out: Vec<Incident> = Vec::with_capacity(list.len() + fresh.len());
    for i in list {
        match fresh.get(&i.id) {
            None => out.push(i.clone()),
            Some(Some(now)) if filter.matches(now) => {}
            Some(_) => left = true,
        }
    }
    if left && list.len() as u64 >= cap {
        return None;
    }
    out.extend(
        fresh
            .values()
            .flatten()
            .filter(|i| filter.matches(i))
            .cloned(),
    );
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    out.truncate(cap as usize);
    Some(out)
}

/// Reads what the public side shows, reusing what `previous` read when `changed` allows.
pub async fn load(
    store: &Store,
    now: DateTime<Utc>,
    markdown: Arc<markdown::Cache>,
    previous: Option<&Data>,
    changed: &Changed,
) -> Result<Data, StoreError> {
    let db = store.db();
    let page_id = store.page_id();
    let version = changed.version;
    let uptime_from = now - Duration::days(pages::UPTIME_DAYS + 1);
    let prev = previous.filter(|_| !changed.everything);
    // Independent reads, side by side (each on its own connection).
    let periods = async {
        match prev {
            Some(p) if !changed.statuses && p.now.date_naive() == now.date_naive() => {
                Ok((p.periods.clone(), p.period_names.clone()))
            }
            _ => {
                // Up to a day ahead: a period that starts at this very instant counts.
                let periods =
                    impact::overlapping(db, uptime_from, now + Duration::days(1), None).await?;
                let mut ids: Vec<IncidentId> = periods
                    .iter()
                    .filter_map(|p| p.incident_id.clone())
                    .collect();
                ids.sort();
                ids.dedup();
                let names = impact::incident_names(db, &ids).await?;
                Ok::<_, StoreError>((periods, names))
            }
        }
    };
    // The incidents that changed, as they are now.
    let fresh = async {
        let Some(_) = prev else { return Ok(None) };
        let ids: Vec<IncidentId> = changed.incidents.iter().cloned().collect();
        let mut found: HashMap<IncidentId, Option<Incident>> =
            ids.iter().map(|id| (id.clone(), None)).collect();
        if !ids.is_empty() {
            for i in incidents::get_many(db, &ids).await? {
                found.insert(i.id.clone(), Some(i));
            }
        }
        Ok::<_, StoreError>(Some(found))
    };
    let (page, components, (periods, period_names), fresh) = tokio::try_join!(
        page_store::get(db, page_id),
        components::list(db, page_id),
        periods,
        fresh,
    )?;
    let ctx = PageCtx::new(&page);
    let list = async |filter: Filter, cap: u64, before: Option<&Vec<Incident>>| {
        if let (Some(before), Some(fresh)) = (before, &fresh)
            && let Some(spliced) = splice(before, fresh, filter, cap)
        {
            return Ok::<_, StoreError>(spliced);
        }
        incidents::list(db, page_id, filter, None, cap, 0).await
    };
    let public_version = match (prev, changed.public_version) {
        (Some(_), Some(v)) => v,
        (Some(p), None) => p.public_version,
        (None, _) => events::latest_public_seq(db).await?,
    };
    let total = match prev {
        Some(p) if changed.deleted == 0 => p.total + changed.created,
        _ => incidents::count(db, page_id).await?,
    };
    let recent = list(Filter::All, RECENT, prev.map(|p| &p.recent)).await?;
    let incidents_ = list(Filter::Incidents, OF_EACH, prev.map(|p| &p.incidents)).await?;
    let maintenances = list(Filter::Maintenances, OF_EACH, prev.map(|p| &p.maintenances)).await?;
    let unresolved = list(Filter::Unresolved, OPEN, prev.map(|p| &p.unresolved)).await?;
    let upcoming = list(Filter::Scheduled, OPEN, prev.map(|p| &p.upcoming)).await?;
    let active_maintenance = list(
        Filter::ActiveMaintenance,
        OPEN,
        prev.map(|p| &p.active_maintenance),
    )
    .await?;
    // A maintenance held back until its publication time is not shown before it.
    let shown = |list: Vec<Incident>| -> Vec<Incident> {
        list.into_iter().filter(|i| i.plan.published(now)).collect()
    };
    let (recent, maintenances, upcoming, active_maintenance) = (
        shown(recent),
        shown(maintenances),
        shown(upcoming),
        shown(active_maintenance),
    );
    // Each listed incident's revision: the previous one, or this version if it changed
    // (or if everything is read again).
    let revisions = [
        &recent,
        &incidents_,
        &maintenances,
        &unresolved,
        &upcoming,
        &active_maintenance,
    ]
    .into_iter()
    .flatten()
    .map(|i| {
        let known = prev
            .and_then(|p| p.revisions.get(&i.id))
            .filter(|_| !changed.incidents.contains(&i.id));
        (i.id.clone(), known.copied().unwrap_or(version))
    })
    .collect();
    Ok(Data {
        recent,
        incidents: incidents_,
        maintenances,
        unresolved,
        upcoming,
        active_maintenance,
        revisions,
        markdown,
        components,
        total,
        periods,
        period_names,
        page,
        ctx,
        now,
        version,
        public_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Impact, IncidentStatus};

    fn incident(n: i64, status: IncidentStatus) -> Incident {
        let t = DateTime::from_timestamp(1_800_000_000 + n * 60, 0).unwrap_or_default();
        let mut i = crate::domain::incident::tests_support::blank(&format!("i{n:03}"));
        i.page_id = "p".into();
        i.name = format!("Incident {n}");
        i.status = status;
        i.impact = Impact::Minor;
        (i.started_at, i.created_at, i.updated_at) = (t, t, t);
        i
    }

    fn ids(list: &[Incident]) -> Vec<&str> {
        list.iter().map(|i| i.id.as_str()).collect()
    }

    #[test]
    fn changed_incidents_take_their_place_and_leave_when_they_no_longer_belong() {
        use IncidentStatus::*;
        let open = vec![incident(3, Identified), incident(1, Investigating)];
        let mut fresh = HashMap::new();
        fresh.insert(IncidentId::from("i001"), Some(incident(1, Resolved)));
        fresh.insert(IncidentId::from("i002"), Some(incident(2, Monitoring)));
        fresh.insert(IncidentId::from("i004"), Some(incident(4, Investigating)));
        let out = splice(&open, &fresh, Filter::Unresolved, 10);
        assert_eq!(out.as_deref().map(ids), Some(vec!["i004", "i003", "i002"]));
        // A full list that loses one cannot be completed here.
        assert!(splice(&open, &fresh, Filter::Unresolved, 2).is_none());
        // A deleted incident leaves every list.
        let gone: HashMap<IncidentId, Option<Incident>> =
            [(IncidentId::from("i003"), None)].into_iter().collect();
        assert_eq!(
            splice(&open, &gone, Filter::All, 10).as_deref().map(ids),
            Some(vec!["i001"])
        );
        // An old incident that changed stays out of a full list of newer ones.
        let newer = vec![incident(9, Resolved), incident(8, Resolved)];
        let old: HashMap<IncidentId, Option<Incident>> =
            [(IncidentId::from("i001"), Some(incident(1, Resolved)))]
                .into_iter()
                .collect();
        assert_eq!(
            splice(&newer, &old, Filter::All, 2).as_deref().map(ids),
            Some(vec!["i009", "i008"])
        );
    }
}
