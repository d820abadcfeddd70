//! The communication record of incidents: how long people waited for the first word,
//! the gaps between updates, and whether each promised update came in time. Times are
//! the updates' `display_at` (when the record says they were posted), so corrections
//! count.

use chrono::{DateTime, Utc};

use super::incident::Incident;

/// One incident's record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Minutes from the start of impact to the first update.
    pub first_update_minutes: Option<i64>,
    /// Minutes between consecutive updates.
    pub gaps_minutes: Vec<i64>,
    pub promises_kept: u32,
    pub promises_missed: u32,
    /// A promise still running (not yet due, no update since).
    pub promise_pending: bool,
}

impl Record {
    pub fn worst_gap(&self) -> Option<i64> {
        self.gaps_minutes.iter().copied().max()
    }
}

/// The record of `incident` as of `now`.
pub fn record(incident: &Incident, now: DateTime<Utc>) -> Record {
    let mut updates: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = incident
        .updates
        .iter()
        .map(|u| (u.display_at, u.next_update_due_at))
        .collect();
    updates.sort_by_key(|u| u.0);
    let first_update_minutes = updates
        .first()
        .map(|(at, _)| (*at - incident.started_at).num_minutes().max(0));
    let gaps_minutes = updates
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).num_minutes())
        .collect();
    let (mut kept, mut missed, mut pending) = (0, 0, false);
    for (n, (_, due)) in updates.iter().enumerate() {
        let Some(due) = due else { continue };
        match updates.get(n + 1) {
            Some((next, _)) if next <= due => kept += 1,
            Some(_) => missed += 1,
            None if now > *due && incident.status.is_open() => missed += 1,
            None if incident.status.is_open() => pending = true,
            // Closed with the promise: the closing update was the last word.
            None => {}
        }
    }
    Record {
        first_update_minutes,
        gaps_minutes,
        promises_kept: kept,
        promises_missed: missed,
        promise_pending: pending,
    }
}

/// The median of `values` (the lower middle of an even count), if any.
pub fn median(values: &[i64]) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2).copied()
}

/// Totals over several records (served as they are by the report).
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Totals {
    pub incidents: usize,
    pub median_first_update_minutes: Option<i64>,
    pub median_gap_minutes: Option<i64>,
    pub worst_gap_minutes: Option<i64>,
    pub promises_kept: u32,
    pub promises_missed: u32,
    /// Kept over kept and missed, 0 to 1; null when nothing was promised.
    pub promises_kept_share: Option<f64>,
}

pub fn totals(records: &[Record]) -> Totals {
    let firsts: Vec<i64> = records
        .iter()
        .filter_map(|r| r.first_update_minutes)
        .collect();
    let gaps: Vec<i64> = records
        .iter()
        .flat_map(|r| r.gaps_minutes.iter().copied())
        .collect();
    let kept: u32 = records.iter().map(|r| r.promises_kept).sum();
    let missed: u32 = records.iter().map(|r| r.promises_missed).sum();
    Totals {
        incidents: records.len(),
        median_first_update_minutes: median(&firsts),
        median_gap_minutes: median(&gaps),
        worst_gap_minutes: gaps.iter().copied().max(),
        promises_kept: kept,
        promises_missed: missed,
        promises_kept_share: (kept + missed > 0)
            .then(|| f64::from(kept) / f64::from(kept + missed)),
    }
}
