//! Recurring maintenance: an RFC 5545 recurrence rule read in an IANA time zone, so a
//! weekly 02:00 window stays at 02:00 local time across daylight-saving changes. Each
//! occurrence becomes its own maintenance (its own state, notices and calendar entry),
//! made ahead of time by the scheduler from the series' template.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::incident::Changes;
use super::maintenance::PlanChanges;
use super::{ComponentId, ComponentStatus, DomainError, IncidentStatus};

/// The longest rule text and window a series may have.
pub const MAX_RULE_BYTES: usize = 500;
pub const MAX_DURATION_MINUTES: u32 = 10_080;
/// How far ahead occurrences are made (so a day-ahead reminder has its maintenance).
pub fn horizon() -> Duration {
    Duration::days(35)
}

/// A checked rule: when the occurrences start, and how long each lasts.
#[derive(Debug, Clone)]
pub struct Rule {
    set: rrule::RRuleSet,
    pub duration: Duration,
}

/// `2026-03-17T02:00` or `2026-03-17T02:00:00`, local to the series' zone.
pub fn local_start(field: &str, v: &str) -> Result<NaiveDateTime, DomainError> {
    let v = v.trim();
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            DomainError::invalid(
                field,
                format!("'{v}' is not a local time like 2026-03-17T02:00 (no zone: the series' time_zone applies)"),
            )
        })
}

impl Rule {
    pub fn new(
        rrule: &str,
        start: NaiveDateTime,
        tz: &str,
        duration_minutes: u32,
    ) -> Result<Rule, DomainError> {
        let rule = rrule.trim();
        let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
        if rule.is_empty() || rule.len() > MAX_RULE_BYTES {
            return Err(DomainError::invalid(
                "rrule",
                format!(
                    "rrule must be 1 to {MAX_RULE_BYTES} characters, like FREQ=WEEKLY;BYDAY=TU"
                ),
            ));
        }
        if rule.chars().any(|c| c.is_control()) {
            return Err(DomainError::invalid("rrule", "rrule must be one line"));
        }
        let upper = rule.to_ascii_uppercase();
        if upper.contains("FREQ=SECONDLY") || upper.contains("FREQ=MINUTELY") {
            return Err(DomainError::invalid(
                "rrule",
                "a maintenance recurs at most hourly (FREQ=HOURLY or slower)",
            ));
        }
        let zone: Tz = tz.parse().map_err(|_| {
            DomainError::invalid("time_zone", format!("'{tz}' is not an IANA time zone"))
        })?;
        if duration_minutes == 0 || duration_minutes > MAX_DURATION_MINUTES {
            return Err(DomainError::invalid(
                "duration_minutes",
                format!("duration_minutes must be between 1 and {MAX_DURATION_MINUTES} (a week)"),
            ));
        }
        if zone.from_local_datetime(&start).earliest().is_none() {
            return Err(DomainError::invalid(
                "starts_at_local",
                format!("{start} does not exist in {tz} (the clocks skip it)"),
            ));
        }
        let text = format!(
            "DTSTART;TZID={}:{}\nRRULE:{rule}",
            zone.name(),
            start.format("%Y%m%dT%H%M%S")
        );
        let set: rrule::RRuleSet = text
            .parse()
            .map_err(|e| DomainError::invalid("rrule", format!("rrule does not parse: {e}")))?;
        Ok(Rule {
            set,
            duration: Duration::minutes(i64::from(duration_minutes)),
        })
    }

    /// Starts of the occurrences whose window ends after `from` and that start before
    /// `to`, at most `limit`, in UTC.
    pub fn starts(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: u16) -> Vec<DateTime<Utc>> {
        let after = (from - self.duration).with_timezone(&rrule::Tz::UTC);
        let before = to.with_timezone(&rrule::Tz::UTC);
        self.set
            .clone()
            .after(after)
            .before(before)
            .all(limit)
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&Utc))
            .filter(|s| *s + self.duration > from)
            .collect()
    }
}

/// What each occurrence is made from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Template {
    pub name: String,
    pub body: Option<String>,
    pub components: Vec<(ComponentId, Option<ComponentStatus>)>,
    pub scheduled_remind_prior: bool,
    pub scheduled_auto_in_progress: bool,
    pub scheduled_auto_completed: bool,
    pub to_maintenance_state: Option<bool>,
    pub to_operational_state: Option<bool>,
    pub notify_at_start: Option<bool>,
    pub notify_at_end: Option<bool>,
    pub reminders: Option<Vec<u32>>,
}

impl Template {
    /// The create of the occurrence starting at `start`.
    pub fn occurrence(&self, start: DateTime<Utc>, duration: Duration) -> Changes {
        Changes {
            name: Some(self.name.clone()),
            status: Some(IncidentStatus::Scheduled),
            body: self.body.clone(),
            components: self.components.clone(),
            scheduled_for: Some(start),
            scheduled_until: Some(start + duration),
            scheduled_remind_prior: Some(self.scheduled_remind_prior),
            scheduled_auto_in_progress: Some(self.scheduled_auto_in_progress),
            scheduled_auto_completed: Some(self.scheduled_auto_completed),
            plan: Box::new(PlanChanges {
                to_maintenance_state: self.to_maintenance_state,
                to_operational_state: self.to_operational_state,
                notify_at_start: self.notify_at_start,
                notify_at_end: self.notify_at_end,
                reminders: self.reminders.clone(),
                publish_at: None,
            }),
            ..Changes::default()
        }
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

    #[test]
    fn a_weekly_window_keeps_its_local_time_across_daylight_saving() {
        let start = local_start("s", "2026-03-17T02:00").unwrap_or_default();
        let rule = Rule::new("FREQ=WEEKLY;BYDAY=TU", start, "Europe/Berlin", 120);
        let Ok(rule) = rule else { panic!("{rule:?}") };
        let starts = rule.starts(at("2026-03-10T00:00:00Z"), at("2026-04-10T00:00:00Z"), 10);
        assert_eq!(
            starts,
            [
                at("2026-03-17T01:00:00Z"),
                at("2026-03-24T01:00:00Z"),
                at("2026-03-31T00:00:00Z"),
                at("2026-04-07T00:00:00Z"),
            ]
        );
        // A window under way counts; one over does not.
        let now = at("2026-03-24T02:00:00Z");
        assert_eq!(
            rule.starts(now, now + Duration::days(1), 10),
            [at("2026-03-24T01:00:00Z")]
        );
    }

    #[test]
    fn bad_rules_are_refused_with_the_field() {
        let start = local_start("s", "2026-03-17T02:00").unwrap_or_default();
        let field =
            |r: Result<Rule, DomainError>| r.err().and_then(|e| e.field().map(str::to_owned));
        assert_eq!(
            field(Rule::new("FREQ=SECONDLY", start, "UTC", 60)).as_deref(),
            Some("rrule")
        );
        assert_eq!(
            field(Rule::new("FREQ=WEEKLY\nX:1", start, "UTC", 60)).as_deref(),
            Some("rrule")
        );
        assert_eq!(
            field(Rule::new("NONSENSE", start, "UTC", 60)).as_deref(),
            Some("rrule")
        );
        assert_eq!(
            field(Rule::new("FREQ=DAILY", start, "Mars/Olympus", 60)).as_deref(),
            Some("time_zone")
        );
        assert_eq!(
            field(Rule::new("FREQ=DAILY", start, "UTC", 0)).as_deref(),
            Some("duration_minutes")
        );
        let gap = local_start("s", "2026-03-29T02:30").unwrap_or_default();
        assert_eq!(
            field(Rule::new("FREQ=DAILY", gap, "Europe/Berlin", 60)).as_deref(),
            Some("starts_at_local")
        );
        assert!(local_start("starts_at_local", "tomorrow").is_err());
    }
}
