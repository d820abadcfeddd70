//! `/maintenance.ics`: scheduled maintenance as an iCalendar feed.

use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};

use super::pages::Data;
use crate::domain::IncidentStatus;

/// Text as one line without control characters, whatever is stored: a line break in a
/// property would end it and start another (RFC 5545), an event injected.
fn one_line(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '\r')
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text that may span lines: line breaks kept as `\n` (the writer escapes them), carriage
/// returns dropped, other control characters made spaces.
fn multi_line(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '\r')
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

/// RFC 5545's TEXT escaping (3.3.11), for the properties the writer leaves as they are.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

pub fn calendar(data: &Data) -> String {
    let maintenances = data
        .recent
        .iter()
        .chain(data.upcoming.iter())
        .chain(data.active_maintenance.iter());
    maintenance_calendar(
        &format!("{} scheduled maintenance", data.page.name),
        &data.ctx,
        &data.markdown,
        maintenances,
    )
}

/// The calendar of `maintenances` (others are left out), named `name`: the page's, or
/// one tenant's.
pub fn maintenance_calendar<'a>(
    name: &str,
    ctx: &crate::render::statuspage::PageCtx,
    markdown: &crate::render::markdown::Cache,
    maintenances: impl Iterator<Item = &'a crate::domain::Incident>,
) -> String {
    let mut cal = Calendar::new();
    // NAME is TEXT (RFC 7986) but written as given; X-WR-CALNAME is escaped by the
    // writer, which also folds every line at 75 octets.
    let name = one_line(name);
    cal.append_property(Property::new("NAME", escape(&name)));
    cal.append_property(Property::new("X-WR-CALNAME", name));
    let maintenances = maintenances.filter(|i| i.scheduled_for.is_some());
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
            .map(|u| multi_line(&markdown.plain(&u.body)))
            .unwrap_or_default();
        let mut event = Event::new();
        event
            .uid(&format!(
                "{}@{}",
                m.id,
                ctx.url
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
            ))
            .summary(&one_line(&m.name))
            .description(&description)
            .url(&ctx.shortlink(&m.id))
            .starts(start)
            .ends(end)
            .timestamp(m.updated_at)
            .sequence(m.plan.sequence)
            .status(match m.status {
                IncidentStatus::Cancelled => EventStatus::Cancelled,
                // Announced: it is on (RFC 5545's CONFIRMED); calendars show it firmly.
                _ => EventStatus::Confirmed,
            });
        cal.push(event.done());
    }
    cal.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_kept_to_its_line() {
        assert_eq!(one_line("a\r\nBEGIN:VEVENT\u{1b}"), "a BEGIN:VEVENT ");
        assert_eq!(multi_line("a\r\nb\u{0}"), "a\nb ");
        assert_eq!(escape("a\\b,c;d\ne"), "a\\\\b\\,c\\;d\\ne");
    }
}
