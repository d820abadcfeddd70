//! What responders write: names people read on the page, in feeds and in calendars
//! (one line of visible text), Markdown bodies (bounded in size and nesting, so no body
//! can make rendering slow), and times (within a range every date computation handles).

use chrono::{DateTime, NaiveDate, Utc};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use super::DomainError;

/// The longest update body, in characters.
pub const MAX_BODY: usize = 32_768;
/// The longest postmortem, in characters.
pub const MAX_POSTMORTEM: usize = 262_144;
/// The deepest nesting of lists and quotes a body may have. Real updates rarely go past
/// three; HTML sanitising grows faster than linearly with depth.
pub const MAX_NESTING: usize = 16;

/// The longest name of a component, group or incident.
pub const MAX_NAME: usize = 255;

/// Whether `c` would corrupt or disguise a one-line name: C0 and C1 control characters
/// (NUL, ESC, BEL, line breaks), line and paragraph separators, and the bidirectional
/// overrides that make text read differently from how it is stored.
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A trimmed, non-empty name of at most [`MAX_NAME`] characters with no control
/// characters; `field` names the field in the error.
pub fn name(field: &str, value: &str) -> Result<String, DomainError> {
    let name = value.trim();
    if name.is_empty() {
        return Err(DomainError::invalid(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if name.chars().count() > MAX_NAME {
        return Err(DomainError::invalid(
            field,
            format!("{field} must be at most {MAX_NAME} characters"),
        ));
    }
    if let Some(c) = name.chars().find(|c| is_forbidden(*c)) {
        return Err(DomainError::invalid(
            field,
            format!(
                "{field} must be one line of visible text; it contains the control character U+{:04X}",
                u32::from(c)
            ),
        ));
    }
    Ok(name.to_owned())
}

/// How deeply lists and block quotes nest in `markdown` (a linear parse).
pub fn nesting(markdown: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::List(_) | Tag::BlockQuote(_)) => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Event::End(TagEnd::List(_) | TagEnd::BlockQuote(_)) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A Markdown body of at most `max` characters, nested at most [`MAX_NESTING`] deep,
/// without control characters other than tabs and line breaks.
pub fn markdown(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    if value.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(DomainError::invalid(
            field,
            format!(
                "{field} contains the control character U+{:04X}",
                u32::from(c)
            ),
        ));
    }
    if nesting(value) > MAX_NESTING {
        return Err(DomainError::invalid(
            field,
            format!("{field} nests lists or quotes more than {MAX_NESTING} deep"),
        ));
    }
    Ok(value.to_owned())
}

/// The earliest time Herald takes: the Unix epoch.
pub fn earliest() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The latest time Herald takes: the end of year 9999.
pub fn latest() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc())
}

/// A time between 1970 and the end of 9999: what a status page can mean, and what every
/// computation on it (a calendar event's end, a day's start in a time zone) handles.
pub fn time(field: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>, DomainError> {
    if t < earliest() || t > latest() {
        return Err(DomainError::invalid(
            field,
            format!(
                "{field} must be between 1970-01-01 and 9999-12-31, in ISO 8601 with an offset (e.g. 2026-04-14T13:51:00Z)"
            ),
        ));
    }
    Ok(t)
}

/// One DNS label, lowercase: letters, digits and inner hyphens, at most 63 characters.
pub fn subdomain(field: &str, value: &str) -> Result<String, DomainError> {
    let label = value.trim().to_ascii_lowercase();
    let ok = (1..=63).contains(&label.len())
        && label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    if !ok {
        return Err(DomainError::invalid(
            field,
            format!("{field} must be one DNS label (letters, digits and hyphens, at most 63)"),
        ));
    }
    Ok(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_visible_line() {
        assert_eq!(name("name", "  Voice  ").ok().as_deref(), Some("Voice"));
        for bad in [
            "",
            "  ",
            "a\u{0}b",
            "a\nb",
            "a\rb",
            "\u{1b}[31m",
            "a\u{7}",
            "a\u{85}b",
            "abc\u{202E}fdp.exe",
            "a\u{2028}b",
        ] {
            assert!(name("name", bad).is_err(), "{bad:?}");
        }
        assert!(name("name", &"x".repeat(MAX_NAME)).is_ok());
        assert!(name("name", &"x".repeat(MAX_NAME + 1)).is_err());
        assert!(name("name", "Prod2 (EU) – Voice ☎ 日本").is_ok());
    }

    #[test]
    fn bodies_are_bounded_in_size_and_nesting() {
        assert!(markdown("body", "## Root cause\n\n- a\n  - b\n\n> quoted", MAX_BODY).is_ok());
        assert!(markdown("body", &"> ".repeat(20_000), MAX_BODY).is_err());
        assert!(markdown("body", &"1. ".repeat(10_000), MAX_BODY).is_err());
        assert!(markdown("body", &"x".repeat(MAX_BODY + 1), MAX_BODY).is_err());
        assert!(markdown("body", "a\u{0}b", MAX_BODY).is_err());
        assert!(markdown("body", "tabs\tand\r\nlines", MAX_BODY).is_ok());
        assert_eq!(nesting(&"> ".repeat(20)), 20);
        assert_eq!(
            nesting(&"- ".repeat(15_000)),
            0,
            "a thematic break, not a list"
        );
    }

    #[test]
    fn times_are_between_1970_and_9999() {
        let far =
            DateTime::parse_from_rfc3339("+262142-12-31T23:30:00Z").map(|t| t.with_timezone(&Utc));
        if let Ok(far) = far {
            assert!(time("t", far).is_err());
        }
        assert!(time("t", DateTime::<Utc>::MIN_UTC).is_err());
        assert!(time("t", latest()).is_ok());
        assert!(time("t", earliest()).is_ok());
        assert!(time("t", earliest() - chrono::Duration::seconds(1)).is_err());
    }

    #[test]
    fn subdomains_are_dns_labels() {
        assert_eq!(
            subdomain("s", "Acme-Status").ok().as_deref(),
            Some("acme-status")
        );
        for bad in ["", "-a", "a-", "a.b", "a b", &"a".repeat(64)] {
            assert!(subdomain("s", bad).is_err(), "{bad:?}");
        }
    }
}
