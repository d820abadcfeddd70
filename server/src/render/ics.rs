//! `/maintenance.ics`: scheduled maintenance as an iCalendar feed.

use icalendar::{Calendar, Component, Event, EventLike, EventStatus};

use super::pages::Data;
use crate::domain::IncidentStatus;

pub fn calendar(data: &Data) -> String {
    let mut cal = Calendar::new();
    cal.name(&format!("{} scheduled maintenance", data.page.name));
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
        let end = m
            .scheduled_until
            .unwrap_or(start + chrono::Duration::hours(1));
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
            .summary(&m.name)
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
