//! `/maintenance.ics`: scheduled maintenance as an iCalendar feed.

use icalendar::{Calendar, Component, Event, EventLike, EventStatus};

use super::pages::Data;
use crate::domain::IncidentStatus;

/// Text as one line without control characters, whatever is stored: a line break in a
/// property would end it and start another (RFC 5545), an event injected.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub fn calendar(data: &Data) -> String {
    let mut cal = Calendar::new();
    cal.name(&one_line(&format!(
        "{} scheduled maintenance",
        data.page.name
    )));
    let maintenances = data
        .recent
        .iter()
        .chain(data.upcoming.iter())
        .chain(data.active_maintenance.iter())
        .filter(|i| i.scheduled_for.is_some());
    let mut seen = std::collections::HashSet::new();
    for m in maintenances {
        if !seen.insert(m.id.clone()) {
            continue;
        }
        let Some(start) = m.scheduled_for else {
            continue;
        };
        // A window without an end lasts an hour; times beyond the calendar's range
        // (stored before Herald checked them) are left out rather than overflowing.
        let Some(end) = m
            .scheduled_until
            .or_else(|| start.checked_add_signed(chrono::Duration::hours(1)))
        else {
            continue;
        };
        if crate::domain::text::time("scheduled_for", start).is_err()
            || crate::domain::text::time("scheduled_until", end).is_err()
        {
            tracing::warn!(incident = %m.id, "a maintenance window out of range is left out of the calendar");
            continue;
        }
        let description = m
            .updates
            .last()
            .map(|u| data.markdown.plain(&u.body).to_string())
            .unwrap_or_default();
        let mut event = Event::new();
        event
            .uid(&format!(
                "{}@{}",
                m.id,
                data.ctx
                    .url
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
            ))
            .summary(&one_line(&m.name))
            .description(&description)
            .url(&data.ctx.shortlink(&m.id))
            .starts(start)
            .ends(end)
            .timestamp(m.updated_at)
            .status(if m.status == IncidentStatus::Completed {
                EventStatus::Confirmed
            } else {
                EventStatus::Tentative
            });
        cal.push(event.done());
    }
    cal.done().to_string()
}
