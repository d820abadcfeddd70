//! What the console decides about people, purely: how long links and sessions live,
//! what a password must be, and how a promised update's countdown reads.

use chrono::{DateTime, Duration, Utc};

use super::DomainError;

/// A one-time sign-in link works this long after it is made.
pub fn link_lifetime() -> Duration {
    Duration::hours(24)
}

/// A session ends after this long without a request.
pub fn session_idle() -> Duration {
    Duration::hours(12)
}

/// A session ends this long after sign-in, however busy.
pub fn session_absolute() -> Duration {
    Duration::days(7)
}

/// Whether a session that began at `created` and was last used at `last_seen` is alive.
pub fn session_alive(created: DateTime<Utc>, last_seen: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - last_seen < session_idle() && now - created < session_absolute() && now >= created
}

/// Why a link was made: to welcome a new person or to reset a forgotten password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invite,
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
        }
    }

    pub fn parse(s: &str) -> Purpose {
        if s == "reset" {
            Purpose::Reset
        } else {
            Purpose::Invite
        }
    }
}

pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 256;

/// A password a person may choose: long enough to resist guessing, short enough to hash
/// quickly; any characters.
pub fn password(field: &str, pw: &str) -> Result<(), DomainError> {
    let n = pw.chars().count();
    if n < MIN_PASSWORD {
        return Err(DomainError::invalid(
            field,
            format!("a password needs at least {MIN_PASSWORD} characters"),
        ));
    }
    if n > MAX_PASSWORD {
        return Err(DomainError::invalid(
            field,
            format!("a password has at most {MAX_PASSWORD} characters"),
        ));
    }
    if pw.trim().is_empty() {
        return Err(DomainError::invalid(
            field,
            "a password cannot be only spaces",
        ));
    }
    Ok(())
}

/// How soon a promised update is due, as the dashboard says it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Countdown {
    /// "in 12 min", "in 1 h 5 min", "overdue by 3 min".
    pub text: String,
    /// `ok`, `soon` (under 5 minutes: amber) or `overdue` (red).
    pub class: &'static str,
}

/// Under this long to go, a promise is about to be late.
pub const SOON_MINUTES: i64 = 5;

fn span(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

pub fn countdown(due: DateTime<Utc>, now: DateTime<Utc>) -> Countdown {
    let left = due - now;
    if left <= Duration::zero() {
        let late = (now - due).num_minutes();
        return Countdown {
            text: if late < 1 {
                "overdue".to_owned()
            } else {
                format!("overdue by {}", span(late))
            },
            class: "overdue",
        };
    }
    // Rounded up: "in 1 min" until it is due.
    let minutes = (left.num_seconds() + 59) / 60;
    Countdown {
        text: format!("in {}", span(minutes)),
        class: if left < Duration::minutes(SOON_MINUTES) {
            "soon"
        } else {
            "ok"
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn countdowns_turn_amber_at_five_minutes_and_red_when_late() {
        let now = t0();
        let c = countdown(now + Duration::minutes(12), now);
        assert_eq!((c.text.as_str(), c.class), ("in 12 min", "ok"));
        let c = countdown(now + Duration::minutes(65), now);
        assert_eq!((c.text.as_str(), c.class), ("in 1 h 5 min", "ok"));
        let c = countdown(now + Duration::minutes(5), now);
        assert_eq!(c.class, "ok");
        let c = countdown(now + Duration::seconds(4 * 60 + 59), now);
        assert_eq!((c.text.as_str(), c.class), ("in 5 min", "soon"));
        let c = countdown(now + Duration::seconds(10), now);
        assert_eq!((c.text.as_str(), c.class), ("in 1 min", "soon"));
        let c = countdown(now, now);
        assert_eq!((c.text.as_str(), c.class), ("overdue", "overdue"));
        let c = countdown(now - Duration::minutes(3), now);
        assert_eq!((c.text.as_str(), c.class), ("overdue by 3 min", "overdue"));
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let t = t0();
        assert!(session_alive(t, t, t + Duration::hours(11)));
        assert!(!session_alive(t, t, t + Duration::hours(12)));
        let busy = t + Duration::days(7) - Duration::minutes(1);
        assert!(session_alive(t, busy, busy));
        assert!(!session_alive(t, busy, t + Duration::days(7)));
        // A clock that went back does not keep a session from the future alive.
        assert!(!session_alive(t, t, t - Duration::minutes(1)));
    }

    #[test]
    fn passwords_are_long_enough_and_bounded() {
        assert!(password("password", "short").is_err());
        assert!(password("password", "          ").is_err());
        assert!(password("password", "correct horse").is_ok());
        assert!(password("password", &"x".repeat(MAX_PASSWORD + 1)).is_err());
    }
}
