//! What an incident did to each component, and when: impact periods derived from the
//! incident's window and its updates' `display_at` times, not from when responders
//! clicked. Uptime bars, percentages, tooltips and `status-history` are computed from
//! these periods, so correcting a time, backfilling, reopening or deleting an incident
//! moves them all together.
//!
//! The rules, walking the updates in the order readers see them (`display_at`, then the
//! order they were posted):
//!
//! - An update's `affected_components` say what the incident gives each component from
//!   then on; an update that closes the incident releases them all, whatever its entries
//!   say (those describe the live status after release, not this incident's impact).
//! - An incident's impact starts at `started_at`: the opening update takes effect then,
//!   and no later update takes effect before it. A maintenance's starts when it goes in
//!   progress.
//! - The closing update that stands (the last one, of a closed incident) ends at
//!   `resolved_at`; earlier closings (before a reopen) at their own time.
//! - An incident entered after the fact (opened resolved, a backfill) affects its
//!   components over its whole window.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::holds;
use super::lifecycle::Kind;
use super::{ComponentId, ComponentStatus, Incident, IncidentId, Update};

/// A component at `status` from `start` until `end` (`None`: still going on) because of
/// `incident_id` (`None`: set by hand, outside any incident).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub incident_id: Option<IncidentId>,
    pub component_id: ComponentId,
    pub status: ComponentStatus,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

impl Period {
    /// Whether it covers any of `[from, to)`.
    pub fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.start < to && self.end.is_none_or(|e| e > from)
    }
}

/// Updates in the order readers see them: by `display_at`, then by when they were posted.
pub fn in_display_order(updates: &[Update]) -> Vec<&Update> {
    let mut v: Vec<&Update> = updates.iter().collect();
    v.sort_by(|a, b| {
        a.display_at
            .cmp(&b.display_at)
            .then(a.ordinal.cmp(&b.ordinal))
    });
    v
}

/// What the incident gives each component as of its latest update (closing updates
/// aside), in the order they were first named.
pub fn giving(i: &Incident) -> Vec<(ComponentId, ComponentStatus)> {
    let mut out: Vec<(ComponentId, ComponentStatus)> = Vec::new();
    for (k, u) in in_display_order(&i.updates).into_iter().enumerate() {
        if u.status.is_open() || k == 0 {
            for e in u.affected_components.iter().flatten() {
                match out.iter_mut().find(|(c, _)| *c == e.code) {
                    Some((_, s)) => *s = e.new_status,
                    None => out.push((e.code.clone(), e.new_status)),
                }
            }
        }
    }
    out
}

/// The impact periods of `i`, ordered by component (first named first), then start.
pub fn periods(i: &Incident) -> Vec<Period> {
    let updates = in_display_order(&i.updates);
    let incident = i.kind() == Kind::Incident;
    let floor = |t: DateTime<Utc>| if incident { t.max(i.started_at) } else { t };
    let last_closing = if i.status.is_open() {
        None
    } else {
        updates.iter().rposition(|u| !u.status.is_open())
    };
    let mut gives: Vec<(ComponentId, ComponentStatus)> = Vec::new();
    let mut open: HashMap<ComponentId, (ComponentStatus, DateTime<Utc>)> = HashMap::new();
    let mut out: Vec<Period> = Vec::new();
    let close = |open: &mut HashMap<ComponentId, (ComponentStatus, DateTime<Utc>)>,
                 out: &mut Vec<Period>,
                 id: &ComponentId,
                 at: DateTime<Utc>| {
        if let Some((status, start)) = open.remove(id)
            && at > start
        {
            out.push(Period {
                incident_id: Some(i.id.clone()),
                component_id: id.clone(),
                status,
                start,
                end: Some(at),
            });
        }
    };
    for (k, u) in updates.iter().enumerate() {
        let first = k == 0;
        let closing = !u.status.is_open();
        let opens_at = floor(if first && incident {
            i.started_at
        } else {
            u.display_at
        });
        let closes_at = floor(if Some(k) == last_closing {
            i.resolved_at.unwrap_or(u.display_at)
        } else {
            u.display_at
        });
        if !closing || first {
            for e in u.affected_components.iter().flatten() {
                match gives.iter_mut().find(|(c, _)| *c == e.code) {
                    Some((_, s)) => *s = e.new_status,
                    None => gives.push((e.code.clone(), e.new_status)),
                }
            }
        }
        if holds::live(u.status) || (first && incident) {
            for (id, status) in &gives {
                if open.get(id).is_some_and(|(s, _)| s == status) {
                    continue;
                }
                close(&mut open, &mut out, id, opens_at);
                if *status != ComponentStatus::Operational {
                    open.insert(id.clone(), (*status, opens_at));
                }
            }
        }
        if closing {
            for (id, _) in &gives {
                close(&mut open, &mut out, id, closes_at);
            }
        }
    }
    // Whatever is still open lasts while the incident does.
    for (id, _) in &gives {
        if let Some((status, start)) = open.remove(id) {
            match i.resolved_at.filter(|_| !i.status.is_open()) {
                Some(end) if end > start => out.push(Period {
                    incident_id: Some(i.id.clone()),
                    component_id: id.clone(),
                    status,
                    start,
                    end: Some(end),
                }),
                Some(_) => {}
                None => out.push(Period {
                    incident_id: Some(i.id.clone()),
                    component_id: id.clone(),
                    status,
                    start,
                    end: None,
                }),
            }
        }
    }
    let rank: HashMap<&ComponentId, usize> =
        gives.iter().enumerate().map(|(n, (c, _))| (c, n)).collect();
    out.sort_by(|a, b| {
        rank.get(&a.component_id)
            .cmp(&rank.get(&b.component_id))
            .then(a.start.cmp(&b.start))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AffectedComponent, Impact, IncidentStatus, UpdateId};
    use ComponentStatus::*;
    use IncidentStatus::*;
    use chrono::Duration;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default() + Duration::minutes(min)
    }

    fn update(
        n: i32,
        status: IncidentStatus,
        at: i64,
        affected: &[(&str, ComponentStatus)],
    ) -> Update {
        Update {
            id: UpdateId::new(format!("u{n}")),
            incident_id: "i".into(),
            status,
            body: String::new(),
            created_at: t(at),
            updated_at: t(at),
            display_at: t(at),
            deliver_notifications: true,
            affected_components: (!affected.is_empty()).then(|| {
                affected
                    .iter()
                    .map(|(c, s)| AffectedComponent {
                        code: (*c).into(),
                        name: c.to_uppercase(),
                        old_status: Operational,
                        new_status: *s,
                    })
                    .collect()
            }),
            template: None,
            next_update_due_at: None,
            custom_tweet: None,
            ordinal: n,
        }
    }

    fn incident(
        status: IncidentStatus,
        started: i64,
        resolved: Option<i64>,
        updates: Vec<Update>,
    ) -> Incident {
        Incident {
            id: "i".into(),
            page_id: "p".into(),
            name: "I".into(),
            status,
            impact: Impact::Major,
            impact_override: None,
            started_at: t(started),
            created_at: t(started),
            updated_at: t(started),
            monitoring_at: None,
            resolved_at: resolved.map(t),
            next_update_due_at: None,
            postmortem_body: None,
            postmortem_body_last_updated_at: None,
            postmortem_published_at: None,
            postmortem_published_body: None,
            postmortem_ignored: false,
            postmortem_notified_subscribers: false,
            scheduled_for: None,
            scheduled_until: None,
            scheduled_remind_prior: false,
            scheduled_auto_in_progress: false,
            scheduled_auto_completed: false,
            metadata: serde_json::json!({}),
            backfilled: false,
            plan: Default::default(),
            updates,
            components: Vec::new(),
        }
    }

    fn spans(i: &Incident) -> Vec<String> {
        let mins = |d: DateTime<Utc>| (d - t(0)).num_minutes();
        periods(i)
            .iter()
            .map(|p| {
                let end = p.end.map_or("open".to_owned(), |e| mins(e).to_string());
                format!("{} {} {}..{end}", p.component_id, p.status, mins(p.start))
            })
            .collect()
    }

    #[test]
    fn an_open_incident_holds_from_its_start_and_follows_its_updates() {
        let i = incident(
            Identified,
            -10,
            None,
            vec![
                update(0, Investigating, 0, &[("api", PartialOutage)]),
                update(
                    1,
                    Identified,
                    30,
                    &[("api", MajorOutage), ("db", DegradedPerformance)],
                ),
            ],
        );
        assert_eq!(
            spans(&i),
            [
                "api partial_outage -10..30",
                "api major_outage 30..open",
                "db degraded_performance 30..open",
            ]
        );
    }

    #[test]
    fn the_window_bounds_the_impact_whatever_the_clicks_said() {
        // Posted at 0, 2 and 4 minutes; corrected to 03:31-04:45 style: started 60
        // minutes earlier, resolved 14 minutes after the start.
        let mut i = incident(
            Resolved,
            -60,
            Some(14),
            vec![
                update(0, Investigating, 0, &[("api", MajorOutage)]),
                update(1, Resolved, 4, &[("api", Operational)]),
            ],
        );
        assert_eq!(spans(&i), ["api major_outage -60..14"]);
        // The closing update's release does not end the impact before resolved_at, and
        // an update shown before the start takes effect at the start.
        i.updates[0].display_at = t(-90);
        assert_eq!(spans(&i), ["api major_outage -60..14"]);
    }

    #[test]
    fn a_backfill_covers_its_whole_window() {
        let i = incident(
            Resolved,
            0,
            Some(30),
            vec![update(0, Resolved, 500, &[("api", PartialOutage)])],
        );
        assert_eq!(spans(&i), ["api partial_outage 0..30"]);
    }

    #[test]
    fn a_reopened_incident_has_a_gap() {
        let i = incident(
            Investigating,
            0,
            None,
            vec![
                update(0, Investigating, 0, &[("api", MajorOutage)]),
                update(1, Resolved, 10, &[("api", Operational)]),
                update(2, Investigating, 20, &[("api", MajorOutage)]),
            ],
        );
        assert_eq!(
            spans(&i),
            ["api major_outage 0..10", "api major_outage 20..open"]
        );
        assert_eq!(giving(&i), [("api".into(), MajorOutage)]);
    }

    #[test]
    fn a_maintenance_starts_when_it_goes_in_progress() {
        let mut m = incident(
            Completed,
            0,
            Some(90),
            vec![
                update(0, Scheduled, 0, &[("api", UnderMaintenance)]),
                update(1, InProgress, 60, &[("api", UnderMaintenance)]),
                update(2, Completed, 95, &[("api", Operational)]),
            ],
        );
        m.scheduled_for = Some(t(60));
        assert_eq!(spans(&m), ["api under_maintenance 60..90"]);
    }

    #[test]
    fn a_component_set_back_to_operational_ends_its_period() {
        let i = incident(
            Monitoring,
            0,
            None,
            vec![
                update(0, Investigating, 0, &[("api", MajorOutage)]),
                update(1, Monitoring, 20, &[("api", Operational)]),
            ],
        );
        assert_eq!(spans(&i), ["api major_outage 0..20"]);
        assert_eq!(giving(&i), [("api".into(), Operational)]);
    }
}
