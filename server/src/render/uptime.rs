//! Uptime over a range of days in the page's time zone, the one computation behind the
//! 90-day bars' percentage and the uptime API: they cannot disagree.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::{Component, IncidentId, Period, uptime};

/// The longest range the uptime API answers for, as on Statuspage (six months).
pub const MAX_RANGE_DAYS: i64 = 183;

/// Local midnight of `date` in `tz` (the earliest, where midnight repeats or is skipped).
pub fn midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map_or_else(
            || date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

/// When the page starts counting a component: its `start_date` if set (a page may
/// describe a service older than its entry here), else when it was created; earlier
/// if an incident reaches further back (a backfill).
pub fn observed_from(c: &Component, periods: &[&Period], tz: Tz) -> DateTime<Utc> {
    let declared = c.start_date.map_or(c.created_at, |d| midnight(d, tz));
    periods
        .iter()
        .map(|p| p.start)
        .min()
        .map_or(declared, |p| p.min(declared))
}

/// Uptime of one component (or of a group, from all its components' periods) over
/// `[from, to)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// 0 to 100, floored to two decimals (99.999 is not 100).
    pub percent: f64,
    pub major_seconds: i64,
    pub partial_seconds: i64,
    /// Incidents with a period in the range, in order of their first period there.
    pub incidents: Vec<IncidentId>,
}

pub fn report(
    periods: &[&Period],
    observed_from: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Report {
    let from = from.max(observed_from);
    let to = to.max(from);
    let segments = uptime::segments(periods, from, to);
    let totals = uptime::totals(&segments, from, to);
    let share = uptime::share((to - from).num_seconds(), totals.outage_seconds());
    let mut incidents: Vec<IncidentId> = Vec::new();
    for p in periods.iter().filter(|p| p.overlaps(from, to)) {
        if let Some(id) = &p.incident_id
            && !incidents.contains(id)
        {
            incidents.push(id.clone());
        }
    }
    Report {
        percent: (share * 10_000.0).floor() / 100.0,
        major_seconds: totals.major_seconds,
        partial_seconds: totals.partial_seconds,
        incidents,
    }
}

/// A range of days asked of the uptime API, after defaults and corrections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// What was changed from what was asked, in words.
    pub warnings: Vec<String>,
}

/// The range for `start`..`end` (inclusive days): by default the last 90 days up to
/// today; never before `first` (the first day observed) nor after `today`; at most
/// [`MAX_RANGE_DAYS`]. A start after the end is an error naming `start`.
pub fn range(
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    first: NaiveDate,
    today: NaiveDate,
) -> Result<Range, String> {
    let mut warnings = Vec::new();
    let mut end = end.unwrap_or(today);
    if end > today {
        warnings.push(format!("end {end} is in the future; using today, {today}"));
        end = today;
    }
    let mut start = start.unwrap_or_else(|| (end - Duration::days(89)).max(first));
    if start > end {
        return Err(format!("start {start} is after end {end}"));
    }
    if end - start >= Duration::days(MAX_RANGE_DAYS) {
        let capped = end - Duration::days(MAX_RANGE_DAYS - 1);
        warnings.push(format!(
            "the range is at most {MAX_RANGE_DAYS} days; using {capped} to {end}"
        ));
        start = capped;
    }
    if start < first {
        warnings.push(format!(
            "start {start} is before the component was observed; using {first}"
        ));
        start = first.min(end);
    }
    Ok(Range {
        start,
        end,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn ranges_default_to_ninety_days_and_say_what_they_changed() {
        let today = d("2026-12-01");
        let r = range(None, None, d("2020-01-01"), today);
        assert_eq!(
            r,
            Ok(Range {
                start: d("2026-09-03"),
                end: today,
                warnings: vec![]
            })
        );
        let r = range(Some(d("2026-11-01")), None, d("2026-11-20"), today)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.start, d("2026-11-20"));
        assert_eq!(r.warnings.len(), 1);
        let r = range(
            Some(d("2020-01-01")),
            Some(d("2027-01-01")),
            d("2019-01-01"),
            today,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.end - r.start).num_days(), MAX_RANGE_DAYS - 1);
        assert_eq!(r.warnings.len(), 2);
        assert!(
            range(
                Some(d("2026-11-02")),
                Some(d("2026-11-01")),
                d("2020-01-01"),
                today
            )
            .is_err()
        );
    }
}
