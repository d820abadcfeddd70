//! Times and durations as readers see them: in the page's zone, with UTC beside it where
//! the two differ.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Hash)]
pub struct TimeView {
    /// RFC 3339 in UTC, for `<time datetime>` and scripts.
    pub iso: String,
    /// "Nov 23, 2026 15:30 CET".
    pub local: String,
    /// "14:30 UTC" when the page's zone is not UTC.
    pub utc: Option<String>,
}

pub fn is_utc(tz: Tz) -> bool {
    tz.name() == "UTC"
        || tz.name() == "Etc/UTC"
        || tz.name() == "Etc/GMT"
        || tz.name() == "GMT"
        || tz.name() == "Etc/Universal"
        || tz.name() == "Universal"
        || tz.name() == "Zulu"
        || tz.name() == "Etc/Zulu"
}

pub fn time_view(t: DateTime<Utc>, tz: Tz) -> TimeView {
    // Times are checked on the way in; one stored before that is shown at the nearest
    // bound rather than overflowing a time zone's offset.
    let t = t.clamp(
        crate::domain::text::earliest(),
        crate::domain::text::latest(),
    );
    let local = t.with_timezone(&tz);
    let utc_differs = !is_utc(tz);
    TimeView {
        iso: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        local: if utc_differs {
            local.format("%b %-d, %Y %H:%M %Z").to_string()
        } else {
            t.format("%b %-d, %Y %H:%M UTC").to_string()
        },
        utc: utc_differs.then(|| t.format("%H:%M UTC").to_string()),
    }
}

/// ISO 8601 in UTC with milliseconds, as Statuspage writes times: `2026-11-23T02:57:23.512Z`.
pub fn iso_ms(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// "1h 14m", "2d 3h", "45m", "less than a minute".
pub fn duration(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let mins = (to - from).num_minutes().max(0);
    let (d, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    match (d, h, m) {
        (0, 0, 0) => "less than a minute".to_owned(),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T14:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(duration(t(), t() + Duration::minutes(74)), "1h 14m");
        assert_eq!(duration(t(), t() + Duration::minutes(45)), "45m");
        assert_eq!(duration(t(), t() + Duration::minutes(120)), "2h");
        assert_eq!(duration(t(), t() + Duration::minutes(60 * 51)), "2d 3h");
        assert_eq!(
            duration(t(), t() + Duration::seconds(20)),
            "less than a minute"
        );
    }

    #[test]
    fn times_carry_their_zone_and_utc_beside() {
        let v = time_view(t(), "Europe/Berlin".parse().unwrap_or(Tz::UTC));
        assert_eq!(v.local, "Nov 23, 2026 15:30 CET");
        assert_eq!(v.utc.as_deref(), Some("14:30 UTC"));
        let v = time_view(t(), Tz::Etc__UTC);
        assert_eq!(v.local, "Nov 23, 2026 14:30 UTC");
        assert_eq!(v.utc, None);
    }
}
