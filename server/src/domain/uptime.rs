//! Daily uptime of a component from its status history: for each day, the worst status
//! and the time spent in outage. Partial outages count as outage time like major ones;
//! degraded performance and maintenance do not.

use chrono::{DateTime, Utc};

use super::ComponentStatus;

/// One day's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub start: DateTime<Utc>,
    pub worst: ComponentStatus,
    pub outage_seconds: i64,
    pub partial_seconds: i64,
    pub major_seconds: i64,
    /// Seconds of the day that lie in the observed window (the last day is partial).
    pub observed_seconds: i64,
}

/// Walks `changes` (time, new status), sorted by time, over consecutive days starting at
/// `day_starts` (each day ends where the next starts, the last at `now`). `initial` is
/// the status at the first day's start.
pub fn daily(
    initial: ComponentStatus,
    changes: &[(DateTime<Utc>, ComponentStatus)],
    day_starts: &[DateTime<Utc>],
    now: DateTime<Utc>,
) -> Vec<Day> {
    let mut days = Vec::with_capacity(day_starts.len());
    let mut status = initial;
    let mut i = 0;
    while i < changes.len() && day_starts.first().is_some_and(|s| changes[i].0 <= *s) {
        status = changes[i].1;
        i += 1;
    }
    for (d, start) in day_starts.iter().enumerate() {
        let end = day_starts.get(d + 1).copied().unwrap_or(now).min(now);
        let mut day = Day {
            start: *start,
            worst: status,
            outage_seconds: 0,
            partial_seconds: 0,
            major_seconds: 0,
            observed_seconds: (end - *start).num_seconds().max(0),
        };
        let mut t = *start;
        loop {
            let next_change = changes.get(i).filter(|c| c.0 < end);
            let until = next_change.map_or(end, |c| c.0);
            let secs = (until - t).num_seconds().max(0);
            match status {
                ComponentStatus::MajorOutage => day.major_seconds += secs,
                ComponentStatus::PartialOutage => day.partial_seconds += secs,
                _ => {}
            }
            match next_change {
                Some(c) => {
                    status = c.1;
                    day.worst = day.worst.max(status);
                    t = c.0;
                    i += 1;
                }
                None => break,
            }
        }
        day.outage_seconds = day.major_seconds + day.partial_seconds;
        days.push(day);
    }
    days
}

/// The days as seen from `from` on (a component's creation): days wholly before it are
/// dropped and the day it falls in is observed only from then.
pub fn observed_since(days: &[Day], from: DateTime<Utc>) -> Vec<Day> {
    days.iter()
        .filter_map(|d| {
            let end = d.start + chrono::Duration::seconds(d.observed_seconds);
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
    let outage: i64 = days.iter().map(|d| d.outage_seconds).sum();
    if observed <= 0 {
        return 1.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let share = 1.0 - outage as f64 / observed as f64;
    share.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus::*;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 - 1_800_000_000 % 86_400, 0).unwrap_or_default()
    }

    fn starts(n: i64) -> Vec<DateTime<Utc>> {
        (0..n).map(|d| t0() + Duration::days(d)).collect()
    }

    #[test]
    fn quiet_history_is_all_operational() {
        let days = daily(Operational, &[], &starts(3), t0() + Duration::days(3));
        assert_eq!(days.len(), 3);
        assert!(
            days.iter()
                .all(|d| d.worst == Operational && d.outage_seconds == 0)
        );
        assert!((availability(&days) - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn an_outage_counts_in_the_days_it_spans() {
        let changes = [
            (t0() + Duration::hours(23), MajorOutage),
            (t0() + Duration::hours(25), DegradedPerformance),
            (t0() + Duration::hours(26), Operational),
        ];
        let days = daily(Operational, &changes, &starts(3), t0() + Duration::days(3));
        assert_eq!(days[0].worst, MajorOutage);
        assert_eq!(days[0].major_seconds, 3600);
        assert_eq!(days[1].worst, MajorOutage);
        assert_eq!(days[1].major_seconds, 3600);
        assert_eq!(days[1].outage_seconds, 3600);
        assert_eq!(days[2].worst, Operational);
        let a = availability(&days);
        assert!((a - (1.0 - 7200.0 / (3.0 * 86400.0))).abs() < 1e-9, "{a}");
    }

    #[test]
    fn time_before_a_component_existed_does_not_count() {
        let changes = [(t0() + Duration::days(2) + Duration::hours(12), MajorOutage)];
        let now = t0() + Duration::days(3);
        let days = daily(Operational, &changes, &starts(3), now);
        let created = t0() + Duration::days(2);
        let seen = observed_since(&days, created);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].observed_seconds, 86_400);
        assert!((availability(&seen) - 0.5).abs() < 1e-9);
        let half = observed_since(&days, created + Duration::hours(6));
        assert_eq!(half[0].observed_seconds, 18 * 3600);
    }

    #[test]
    fn status_before_the_window_carries_in_and_today_is_partial() {
        let changes = [(t0() - Duration::days(5), PartialOutage)];
        let now = t0() + Duration::hours(6);
        let days = daily(Operational, &changes, &starts(1), now);
        assert_eq!(days[0].worst, PartialOutage);
        assert_eq!(days[0].observed_seconds, 6 * 3600);
        assert_eq!(days[0].partial_seconds, 6 * 3600);
        assert!(availability(&days) < 1e-9);
    }
}
