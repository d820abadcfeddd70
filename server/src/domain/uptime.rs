//! Uptime of a component from its impact periods: where periods overlap the worst status
//! counts; time outside every period is operational. Partial and major outages count as
//! downtime; degraded performance and maintenance do not (as on Statuspage).

use chrono::{DateTime, Duration, Utc};

use super::impact::Period;
use super::{ComponentStatus, IncidentId};

/// A stretch of time at one status (never operational), and the incident behind it (the
/// first of the worst, if several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: ComponentStatus,
    pub incident_id: Option<IncidentId>,
}

/// The component's status over `[from, to)` from `periods` (of that component): the
/// worst period wins where they overlap; adjacent stretches at the same status and of
/// the same incident are joined.
pub fn segments(periods: &[&Period], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Segment> {
    let mut cuts: Vec<DateTime<Utc>> = vec![from, to];
    for p in periods.iter().filter(|p| p.overlaps(from, to)) {
        cuts.push(p.start.clamp(from, to));
        cuts.push(p.end.unwrap_or(to).clamp(from, to));
    }
    cuts.sort();
    cuts.dedup();
    let mut out: Vec<Segment> = Vec::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let worst = periods
            .iter()
            .filter(|p| p.start <= a && p.end.is_none_or(|e| e >= b))
            .max_by(|x, y| x.status.cmp(&y.status).then(y.start.cmp(&x.start)));
        let Some(p) = worst.filter(|p| p.status != ComponentStatus::Operational) else {
            continue;
        };
        match out.last_mut() {
            Some(last)
                if last.end == a
                    && last.status == p.status
                    && last.incident_id == p.incident_id =>
            {
                last.end = b;
            }
            _ => out.push(Segment {
                start: a,
                end: b,
                status: p.status,
                incident_id: p.incident_id.clone(),
            }),
        }
    }
    out
}

/// Seconds at each status that matters over some time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub major_seconds: i64,
    pub partial_seconds: i64,
    pub degraded_seconds: i64,
    pub maintenance_seconds: i64,
}

impl Totals {
    fn add(&mut self, status: ComponentStatus, secs: i64) {
        match status {
            ComponentStatus::MajorOutage => self.major_seconds += secs,
            ComponentStatus::PartialOutage => self.partial_seconds += secs,
            ComponentStatus::DegradedPerformance => self.degraded_seconds += secs,
            ComponentStatus::UnderMaintenance => self.maintenance_seconds += secs,
            ComponentStatus::Operational => {}
        }
    }

    pub fn outage_seconds(&self) -> i64 {
        self.major_seconds + self.partial_seconds
    }

    /// The worst status with any time.
    pub fn worst(&self) -> ComponentStatus {
        if self.major_seconds > 0 {
            ComponentStatus::MajorOutage
        } else if self.partial_seconds > 0 {
            ComponentStatus::PartialOutage
        } else if self.degraded_seconds > 0 {
            ComponentStatus::DegradedPerformance
        } else if self.maintenance_seconds > 0 {
            ComponentStatus::UnderMaintenance
        } else {
            ComponentStatus::Operational
        }
    }

    /// "1h 20m partial outage, 35m degraded performance"; `None` when nothing happened.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.major_seconds, "major outage"),
            (self.partial_seconds, "partial outage"),
            (self.degraded_seconds, "degraded performance"),
            (self.maintenance_seconds, "maintenance"),
        ]
        .into_iter()
        .filter(|(s, _)| *s > 0)
        .map(|(s, what)| format!("{} {what}", short(s)))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// A duration rounded up to the minute: "45m", "1h 5m", "2d 3h".
pub fn short(secs: i64) -> String {
    let mins = (secs + 59) / 60;
    if mins >= 24 * 60 {
        format!("{}d {}h", mins / (24 * 60), mins % (24 * 60) / 60)
    } else if mins >= 60 {
        format!("{}h {}m", mins / 60, mins % 60)
    } else {
        format!("{mins}m")
    }
}

/// Seconds at each status over `[from, to)`, and the incidents behind any of them.
pub fn totals(segments: &[Segment], from: DateTime<Utc>, to: DateTime<Utc>) -> Totals {
    let mut t = Totals::default();
    for s in segments {
        let (a, b) = (s.start.max(from), s.end.min(to));
        if b > a {
            t.add(s.status, (b - a).num_seconds());
        }
    }
    t
}

/// One day's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub start: DateTime<Utc>,
    pub totals: Totals,
    /// Seconds of the day that lie in the observed window (the last day is partial).
    pub observed_seconds: i64,
    /// Incidents with a period on this day, in order of their first period.
    pub incidents: Vec<IncidentId>,
}

impl Day {
    pub fn worst(&self) -> ComponentStatus {
        self.totals.worst()
    }

    pub fn outage_seconds(&self) -> i64 {
        self.totals.outage_seconds()
    }
}

/// The days starting at `day_starts` (each ends where the next starts, the last at
/// `now`), from the component's `periods`.
pub fn daily(periods: &[&Period], day_starts: &[DateTime<Utc>], now: DateTime<Utc>) -> Vec<Day> {
    let Some(first) = day_starts.first().copied() else {
        return Vec::new();
    };
    let segs = segments(periods, first, now.max(first));
    day_starts
        .iter()
        .enumerate()
        .map(|(d, start)| {
            let end = day_starts
                .get(d + 1)
                .copied()
                .unwrap_or(now)
                .min(now)
                .max(*start);
            let mut incidents: Vec<IncidentId> = Vec::new();
            for p in periods.iter().filter(|p| p.overlaps(*start, end)) {
                if let Some(id) = &p.incident_id
                    && !incidents.contains(id)
                {
                    incidents.push(id.clone());
                }
            }
            Day {
                start: *start,
                totals: totals(&segs, *start, end),
                observed_seconds: (end - *start).num_seconds(),
                incidents,
            }
        })
        .collect()
}

/// The days as seen from `from` on (a component's creation): days wholly before it are
/// dropped and the day it falls in is observed only from then.
pub fn observed_since(days: &[Day], from: DateTime<Utc>) -> Vec<Day> {
    days.iter()
        .filter_map(|d| {
            let end = d.start + Duration::seconds(d.observed_seconds);
            if end <= from {
                return None;
            }
            let mut d = d.clone();
            if d.start < from {
                d.observed_seconds = (end - from).num_seconds();
            }
            Some(d)
        })
        .collect()
}

/// The share of observed time not in outage, 0.0 to 1.0; 1.0 when nothing was observed.
pub fn availability(days: &[Day]) -> f64 {
    let observed: i64 = days.iter().map(|d| d.observed_seconds).sum();
    let outage: i64 = days.iter().map(Day::outage_seconds).sum();
    share(observed, outage)
}

/// `1 - outage / observed`, clamped; 1.0 when nothing was observed.
pub fn share(observed: i64, outage: i64) -> f64 {
    if observed <= 0 {
        return 1.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let share = 1.0 - outage as f64 / observed as f64;
    share.clamp(0.0, 1.0)
}

/// The component's status history as changes: `(at, from, to, incident)`, from the
/// segments over a range ending at `to` (operational before the first).
pub fn transitions(
    segments: &[Segment],
    to: DateTime<Utc>,
) -> Vec<(
    DateTime<Utc>,
    ComponentStatus,
    ComponentStatus,
    Option<IncidentId>,
)> {
    let mut out = Vec::new();
    let mut at_status = ComponentStatus::Operational;
    let mut last_end: Option<DateTime<Utc>> = None;
    for s in segments {
        if last_end.is_some_and(|e| e < s.start) && at_status != ComponentStatus::Operational {
            if let Some(e) = last_end {
                out.push((e, at_status, ComponentStatus::Operational, None));
            }
            at_status = ComponentStatus::Operational;
        }
        if s.status != at_status || last_end != Some(s.start) {
            out.push((s.start, at_status, s.status, s.incident_id.clone()));
        }
        at_status = s.status;
        last_end = Some(s.end);
    }
    if let Some(e) = last_end.filter(|e| *e < to) {
        out.push((e, at_status, ComponentStatus::Operational, None));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 - 1_800_000_000 % 86_400, 0).unwrap_or_default()
    }

    fn starts(n: i64) -> Vec<DateTime<Utc>> {
        (0..n).map(|d| t0() + Duration::days(d)).collect()
    }

    fn period(incident: &str, status: ComponentStatus, from_h: i64, to_h: Option<i64>) -> Period {
        Period {
            incident_id: (!incident.is_empty()).then(|| incident.into()),
            component_id: "api".into(),
            status,
            start: t0() + Duration::hours(from_h),
            end: to_h.map(|h| t0() + Duration::hours(h)),
        }
    }

    #[test]
    fn quiet_history_is_all_operational() {
        let days = daily(&[], &starts(3), t0() + Duration::days(3));
        assert_eq!(days.len(), 3);
        assert!(
            days.iter()
                .all(|d| d.worst() == Operational && d.outage_seconds() == 0)
        );
        assert!((availability(&days) - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn an_outage_counts_in_the_days_it_spans() {
        let p = [
            period("a", MajorOutage, 23, Some(25)),
            period("a", DegradedPerformance, 25, Some(26)),
        ];
        let refs: Vec<&Period> = p.iter().collect();
        let days = daily(&refs, &starts(3), t0() + Duration::days(3));
        assert_eq!(days[0].worst(), MajorOutage);
        assert_eq!(days[0].totals.major_seconds, 3600);
        assert_eq!(days[1].totals.major_seconds, 3600);
        assert_eq!(days[1].totals.degraded_seconds, 3600);
        assert_eq!(
            days[1].totals.describe().as_deref(),
            Some("1h 0m major outage, 1h 0m degraded performance")
        );
        assert_eq!(days[1].incidents, [IncidentId::from("a")]);
        assert_eq!(days[2].worst(), Operational);
        assert!(days[2].incidents.is_empty());
        let a = availability(&days);
        assert!((a - (1.0 - 7200.0 / (3.0 * 86400.0))).abs() < 1e-9, "{a}");
    }

    #[test]
    fn overlapping_periods_count_once_at_the_worst() {
        let p = [
            period("a", PartialOutage, 1, Some(5)),
            period("b", MajorOutage, 2, Some(3)),
            period("", DegradedPerformance, 0, Some(10)),
        ];
        let refs: Vec<&Period> = p.iter().collect();
        let days = daily(&refs, &starts(1), t0() + Duration::days(1));
        let d = &days[0].totals;
        assert_eq!(d.major_seconds, 3600);
        assert_eq!(d.partial_seconds, 3 * 3600);
        assert_eq!(d.degraded_seconds, 6 * 3600);
        assert_eq!(days[0].incidents.len(), 2);
        let segs = segments(&refs, t0(), t0() + Duration::days(1));
        let changes = transitions(&segs, t0() + Duration::days(1));
        let to: Vec<ComponentStatus> = changes.iter().map(|c| c.2).collect();
        assert_eq!(
            to,
            [
                DegradedPerformance,
                PartialOutage,
                MajorOutage,
                PartialOutage,
                DegradedPerformance,
                Operational
            ]
        );
    }

    #[test]
    fn time_before_a_component_existed_does_not_count() {
        let p = [period("a", MajorOutage, 60, None)];
        let refs: Vec<&Period> = p.iter().collect();
        let now = t0() + Duration::days(3);
        let days = daily(&refs, &starts(3), now);
        let created = t0() + Duration::days(2);
        let seen = observed_since(&days, created);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].observed_seconds, 86_400);
        assert!((availability(&seen) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_period_begun_before_the_window_carries_in_and_today_is_partial() {
        let p = [period("a", PartialOutage, -120, None)];
        let refs: Vec<&Period> = p.iter().collect();
        let now = t0() + Duration::hours(6);
        let days = daily(&refs, &starts(1), now);
        assert_eq!(days[0].worst(), PartialOutage);
        assert_eq!(days[0].observed_seconds, 6 * 3600);
        assert_eq!(days[0].totals.partial_seconds, 6 * 3600);
        assert!(availability(&days) < 1e-9);
    }

    #[test]
    fn durations_read_shortly() {
        assert_eq!(short(1), "1m");
        assert_eq!(short(4440), "1h 14m");
        assert_eq!(short(90_000), "1d 1h");
    }
}
