//! Scheduled maintenance as a workflow. A maintenance carries a [`Plan`]: whether its
//! components go under maintenance at the start and back at the end, whether the start
//! and the end notify, the reminders before it starts, the calendar's sequence number
//! and whether it overran. The scheduler's decisions are pure: what is due for a
//! maintenance at a time ([`due`]) and when to look again ([`next_wake`]).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{DomainError, IncidentStatus, incident::Incident};

/// Reminders before a maintenance starts, in minutes, when none are given: a day and an
/// hour ahead.
pub const DEFAULT_REMINDERS: [u32; 2] = [1_440, 60];
/// The most reminders one maintenance may have, and the longest lead (30 days).
pub const MAX_REMINDERS: usize = 5;
pub const MAX_REMINDER_MINUTES: u32 = 43_200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plan {
    /// Components go under maintenance when it starts (Statuspage's
    /// `auto_transition_to_maintenance_state`).
    pub to_maintenance_state: bool,
    /// Components come back when it ends (`auto_transition_to_operational_state`).
    pub to_operational_state: bool,
    /// The automatic start and end notify subscribers
    /// (`auto_transition_deliver_notifications_at_start`, `_at_end`).
    pub notify_at_start: bool,
    pub notify_at_end: bool,
    /// Minutes before the start that followers are reminded (when
    /// `scheduled_remind_prior`), largest first.
    pub reminders: Vec<u32>,
    /// Grows with every change: the calendar's SEQUENCE.
    pub sequence: u32,
    /// When it was announced or last rescheduled: reminders whose time had passed by
    /// then are not sent.
    pub announced_at: Option<DateTime<Utc>>,
    /// When the window ended while the work was still going on.
    pub overrun_at: Option<DateTime<Utc>>,
    /// Hidden from readers and followers until then (announced at that time).
    pub publish_at: Option<DateTime<Utc>>,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            to_maintenance_state: true,
            to_operational_state: true,
            notify_at_start: false,
            notify_at_end: false,
            reminders: DEFAULT_REMINDERS.to_vec(),
            sequence: 0,
            announced_at: None,
            overrun_at: None,
            publish_at: None,
        }
    }
}

/// What a create or an update changes in a maintenance's plan (absent: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanChanges {
    pub to_maintenance_state: Option<bool>,
    pub to_operational_state: Option<bool>,
    pub notify_at_start: Option<bool>,
    pub notify_at_end: Option<bool>,
    /// Minutes before the start.
    pub reminders: Option<Vec<u32>>,
    pub publish_at: Option<DateTime<Utc>>,
}

impl PlanChanges {
    pub fn is_empty(&self) -> bool {
        *self == PlanChanges::default()
    }

    pub fn apply(&self, mut plan: Plan) -> Result<Plan, DomainError> {
        if let Some(v) = self.to_maintenance_state {
            plan.to_maintenance_state = v;
        }
        if let Some(v) = self.to_operational_state {
            plan.to_operational_state = v;
        }
        if let Some(v) = self.notify_at_start {
            plan.notify_at_start = v;
        }
        if let Some(v) = self.notify_at_end {
            plan.notify_at_end = v;
        }
        if let Some(p) = self.publish_at {
            plan.publish_at = Some(p);
        }
        if let Some(r) = &self.reminders {
            plan.reminders = reminders("scheduled_reminders", r.clone())?;
        }
        Ok(plan)
    }
}

/// Checks and orders reminder offsets (minutes before the start).
pub fn reminders(field: &str, mut offsets: Vec<u32>) -> Result<Vec<u32>, DomainError> {
    if offsets.len() > MAX_REMINDERS {
        return Err(DomainError::invalid(
            field,
            format!("a maintenance has at most {MAX_REMINDERS} reminders"),
        ));
    }
    if let Some(bad) = offsets
        .iter()
        .find(|m| **m == 0 || **m > MAX_REMINDER_MINUTES)
    {
        return Err(DomainError::invalid(
            field,
            format!("{bad} is not between 1 and {MAX_REMINDER_MINUTES} minutes before the start"),
        ));
    }
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets.dedup();
    Ok(offsets)
}

/// The key `reminded` is asked about for the publication (no reminder is 0 minutes).
pub const PUBLISH: u32 = 0;

/// Something the scheduler does to a maintenance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Remind followers, `minutes` before the start (the reminder's key: the start
    /// time and the offset).
    Remind {
        minutes: u32,
    },
    /// Offsets whose time passed unsent (a later one is sent instead): recorded as done.
    Skip {
        minutes: u32,
    },
    Start,
    End,
    /// The window ended and the work goes on: tell the responders, show it.
    Overrun,
    /// Its publication time came: shown, and followers told.
    Publish,
}

impl Plan {
    /// Whether readers may see it at `now`.
    pub fn published(&self, now: DateTime<Utc>) -> bool {
        self.publish_at.is_none_or(|p| p <= now)
    }

    /// Whether it was announced before its publication time (so publishing tells).
    pub fn held_back(&self) -> bool {
        matches!((self.publish_at, self.announced_at), (Some(p), Some(a)) if p > a)
    }
}

fn is_waiting(m: &Incident) -> bool {
    m.status == IncidentStatus::Scheduled
}

fn is_running(m: &Incident) -> bool {
    matches!(
        m.status,
        IncidentStatus::InProgress | IncidentStatus::Verifying
    )
}

/// What is due for `m` at `now`, in order; `reminded(minutes)` says whether that
/// reminder was already made for the current start time. A window that began and
/// ended while Herald was down starts and ends at once, in that order.
pub fn due(m: &Incident, now: DateTime<Utc>, reminded: impl Fn(u32) -> bool) -> Vec<Due> {
    let (Some(start), plan) = (m.scheduled_for, &m.plan) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(p) = plan.publish_at
        && plan.held_back()
        && p <= now
        && !reminded(PUBLISH)
    {
        out.push(Due::Publish);
    }
    if is_waiting(m) && m.scheduled_remind_prior && now < start && plan.published(now) {
        // Of the reminders due and not made, only the nearest to the start is sent.
        let pending: Vec<u32> = plan
            .reminders
            .iter()
            .copied()
            .filter(|min| start - Duration::minutes(i64::from(*min)) <= now && !reminded(*min))
            .collect();
        if let Some(nearest) = pending.iter().copied().min() {
            for min in pending {
                let at = start - Duration::minutes(i64::from(min));
                let stale = plan.announced_at.is_some_and(|a| at < a);
                if min == nearest && !stale {
                    out.push(Due::Remind { minutes: min });
                } else {
                    out.push(Due::Skip { minutes: min });
                }
            }
        }
    }
    let started = is_waiting(m) && m.scheduled_auto_in_progress && start <= now;
    if started {
        out.push(Due::Start);
    }
    let running = is_running(m) || started;
    if let Some(end) = m.scheduled_until
        && running
        && end <= now
    {
        if m.scheduled_auto_completed {
            out.push(Due::End);
        } else if plan.overrun_at.is_none() {
            out.push(Due::Overrun);
        }
    }
    out
}

/// One reminder of a maintenance as the scheduler will treat it: `minutes` before the
/// start, at `at`; `sends` is false when it will be skipped (its time had passed when
/// the window was announced or last moved, reminders are off, or the maintenance is no
/// longer waiting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedReminder {
    pub minutes: u32,
    pub at: DateTime<Utc>,
    pub sends: bool,
}

/// The reminders of `m`, largest lead first, each asked of [`due`] at its own time (as
/// if the earlier ones were made): what the scheduler will do, from the same rule.
pub fn reminder_plan(m: &Incident) -> Vec<PlannedReminder> {
    let Some(start) = m.scheduled_for else {
        return Vec::new();
    };
    m.plan
        .reminders
        .iter()
        .map(|&minutes| {
            let at = start - Duration::minutes(i64::from(minutes));
            let sends = due(m, at, |k| k != minutes).contains(&Due::Remind { minutes });
            PlannedReminder { minutes, at, sends }
        })
        .collect()
}

/// "1 day", "2 hours", "90 minutes": a reminder's lead.
pub fn lead(minutes: u32) -> String {
    match minutes {
        m if m % 1_440 == 0 => plural(m / 1_440, "day"),
        m if m % 60 == 0 => plural(m / 60, "hour"),
        m => plural(m, "minute"),
    }
}

/// When something next falls due for `m` after `now`.
pub fn next_wake(m: &Incident, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let start = m.scheduled_for?;
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    if let Some(p) = m.plan.publish_at.filter(|_| m.plan.held_back()) {
        times.push(p);
    }
    if is_waiting(m) {
        if m.scheduled_remind_prior {
            times.extend(
                m.plan
                    .reminders
                    .iter()
                    .map(|min| start - Duration::minutes(i64::from(*min))),
            );
        }
        if m.scheduled_auto_in_progress {
            times.push(start);
        }
    }
    if (is_waiting(m) || is_running(m))
        && let Some(end) = m.scheduled_until
    {
        times.push(end);
    }
    times.into_iter().filter(|t| *t > now).min()
}

/// "Tue 02:00–04:00 CET".
pub fn window(start: DateTime<Utc>, end: Option<DateTime<Utc>>, tz: Tz) -> String {
    let s = start.with_timezone(&tz);
    match end.map(|e| e.with_timezone(&tz)) {
        Some(e) if e.date_naive() == s.date_naive() => {
            format!(
                "{} {}–{} {}",
                s.format("%a %b %-d"),
                s.format("%H:%M"),
                e.format("%H:%M"),
                e.format("%Z")
            )
        }
        Some(e) => format!(
            "{} {} – {} {} {}",
            s.format("%a %b %-d"),
            s.format("%H:%M"),
            e.format("%a %b %-d"),
            e.format("%H:%M"),
            e.format("%Z")
        ),
        None => format!(
            "{} {} {}",
            s.format("%a %b %-d"),
            s.format("%H:%M"),
            s.format("%Z")
        ),
    }
}

/// "Moved from Tue Dec 1 02:00–04:00 CET to Thu Dec 3 02:00–04:00 CET."
pub fn moved(
    from: (DateTime<Utc>, Option<DateTime<Utc>>),
    to: (DateTime<Utc>, Option<DateTime<Utc>>),
    tz: Tz,
) -> String {
    format!(
        "Rescheduled: moved from {} to {}.",
        window(from.0, from.1, tz),
        window(to.0, to.1, tz)
    )
}

/// "This maintenance starts in 1 hour, on Thu Dec 3 02:00–04:00 CET."
pub fn reminder(minutes: u32, start: DateTime<Utc>, end: Option<DateTime<Utc>>, tz: Tz) -> String {
    let lead = lead(minutes);
    format!(
        "Reminder: this maintenance starts in {lead}, on {}.",
        window(start, end, tz)
    )
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn maintenance(status: IncidentStatus) -> Incident {
        let mut m = crate::domain::incident::tests_support::blank("m1");
        m.status = status;
        m.scheduled_for = Some(at("2026-12-03T01:00:00Z"));
        m.scheduled_until = Some(at("2026-12-03T03:00:00Z"));
        m.scheduled_remind_prior = true;
        m.scheduled_auto_in_progress = true;
        m.scheduled_auto_completed = true;
        m.plan.announced_at = Some(at("2026-11-20T00:00:00Z"));
        m
    }

    #[test]
    fn reminders_start_and_end_fall_due_in_order() {
        let m = maintenance(IncidentStatus::Scheduled);
        let none = |_| false;
        assert!(due(&m, at("2026-12-02T00:59:00Z"), none).is_empty());
        assert_eq!(
            due(&m, at("2026-12-02T01:00:00Z"), none),
            [Due::Remind { minutes: 1_440 }]
        );
        // Both due (Herald was down): only the nearer is sent.
        assert_eq!(
            due(&m, at("2026-12-03T00:30:00Z"), none),
            [Due::Skip { minutes: 1_440 }, Due::Remind { minutes: 60 }]
        );
        assert!(due(&m, at("2026-12-03T00:30:00Z"), |_| true).is_empty());
        // Down across the whole window: start, then end.
        assert_eq!(
            due(&m, at("2026-12-03T04:00:00Z"), |_| true),
            [Due::Start, Due::End]
        );
        assert_eq!(
            next_wake(&m, at("2026-12-02T00:00:00Z")),
            Some(at("2026-12-02T01:00:00Z"))
        );
        assert_eq!(
            next_wake(&m, at("2026-12-03T00:00:00Z")),
            Some(at("2026-12-03T00:00:00Z") + Duration::hours(1))
        );
    }

    #[test]
    fn the_reminder_plan_is_what_falls_due() {
        let m = maintenance(IncidentStatus::Scheduled);
        let plan = reminder_plan(&m);
        assert_eq!(
            plan,
            [
                PlannedReminder {
                    minutes: 1_440,
                    at: at("2026-12-02T01:00:00Z"),
                    sends: true
                },
                PlannedReminder {
                    minutes: 60,
                    at: at("2026-12-03T00:00:00Z"),
                    sends: true
                },
            ]
        );
        let mut late = m.clone();
        late.plan.announced_at = Some(at("2026-12-02T20:00:00Z"));
        assert_eq!(
            reminder_plan(&late)
                .iter()
                .map(|r| r.sends)
                .collect::<Vec<_>>(),
            [false, true]
        );
        let mut off = m;
        off.scheduled_remind_prior = false;
        assert!(reminder_plan(&off).iter().all(|r| !r.sends));
    }

    #[test]
    fn a_window_without_auto_completion_overruns_once() {
        let mut m = maintenance(IncidentStatus::InProgress);
        m.scheduled_auto_completed = false;
        assert_eq!(
            due(&m, at("2026-12-03T03:00:00Z"), |_| true),
            [Due::Overrun]
        );
        m.plan.overrun_at = Some(at("2026-12-03T03:00:00Z"));
        assert!(due(&m, at("2026-12-03T05:00:00Z"), |_| true).is_empty());
    }

    #[test]
    fn reminders_announced_too_late_are_skipped() {
        let mut m = maintenance(IncidentStatus::Scheduled);
        m.plan.announced_at = Some(at("2026-12-02T20:00:00Z"));
        assert_eq!(
            due(&m, at("2026-12-02T20:00:00Z"), |_| false),
            [Due::Skip { minutes: 1_440 }]
        );
    }

    #[test]
    fn windows_read_in_the_page_zone() {
        let tz: Tz = "Europe/Berlin".parse().unwrap_or(Tz::UTC);
        assert_eq!(
            moved(
                (at("2026-12-01T01:00:00Z"), Some(at("2026-12-01T03:00:00Z"))),
                (at("2026-12-03T01:00:00Z"), Some(at("2026-12-03T03:00:00Z"))),
                tz
            ),
            "Rescheduled: moved from Tue Dec 1 02:00–04:00 CET to Thu Dec 3 02:00–04:00 CET."
        );
        assert_eq!(
            reminder(60, at("2026-12-03T01:00:00Z"), None, tz),
            "Reminder: this maintenance starts in 1 hour, on Thu Dec 3 02:00 CET."
        );
        assert_eq!(reminders("r", vec![60, 1_440, 60]), Ok(vec![1_440, 60]));
        assert!(reminders("r", vec![0]).is_err());
    }
}
