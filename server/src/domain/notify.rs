//! Who is told about what, and how hard Herald tries: the rules of notification, free
//! of storage and transport. The machinery that applies them is in `crate::notify`.

use chrono::{DateTime, Duration, Utc};

use super::{Channel, ComponentId, DomainError, IncidentId};

/// The longest address (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;

/// A subscriber is quarantined after this many permanent refusals in a row.
pub const QUARANTINE_AFTER: i32 = 3;

/// How long a delivery is retried after it was first due before it becomes a dead letter.
pub fn retry_budget() -> Duration {
    Duration::hours(72)
}

/// The longest wait between two attempts.
pub fn longest_gap() -> Duration {
    Duration::hours(4)
}

/// An email address as given, trimmed; refused with a message naming `field` when it is
/// not one address.
pub fn email(field: &str, v: &str) -> Result<String, DomainError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(DomainError::invalid(field, format!("{field} is required")));
    }
    if v.len() > MAX_EMAIL {
        return Err(DomainError::invalid(
            field,
            format!("{field} must be at most {MAX_EMAIL} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control() || c.is_whitespace()) || v.contains(['<', '>', ',']) {
        return Err(DomainError::invalid(
            field,
            format!("'{v}' is not an email address"),
        ));
    }
    match v.parse::<lettre::Address>() {
        Ok(a) if a.domain().contains('.') || a.domain() == "localhost" => Ok(v.to_owned()),
        _ => Err(DomainError::invalid(
            field,
            format!("'{v}' is not an email address"),
        )),
    }
}

/// An endpoint URL (webhooks, chat): absolute http(s), at most 2,000 characters.
pub fn endpoint(field: &str, v: &str) -> Result<String, DomainError> {
    let v = v.trim();
    let bad = || {
        DomainError::invalid(
            field,
            format!("{field} must be an http or https URL, got '{v}'"),
        )
    };
    if v.len() > 2_000 {
        return Err(DomainError::invalid(
            field,
            format!("{field} must be at most 2000 characters"),
        ));
    }
    let u = url::Url::parse(v).map_err(|_| bad())?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(bad());
    }
    Ok(u.to_string())
}

/// What makes two subscriptions the same: the channel, the address (case-insensitive
/// for email) and the incident followed, if any.
pub fn address_key(channel: Channel, address: &str, incident: Option<&IncidentId>) -> String {
    let address = match channel {
        Channel::Email => address.trim().to_lowercase(),
        _ => address.trim().to_owned(),
    };
    format!(
        "{channel}:{address}:{}",
        incident.map_or("", IncidentId::as_str)
    )
}

/// Whether a subscriber following `followed` (components or groups; none: everything)
/// hears of something affecting `affected` (none: the whole page). A group followed
/// covers the components in it now, including those added after subscribing.
pub fn follows<'a>(
    followed: &[ComponentId],
    affected: &[ComponentId],
    group_of: impl Fn(&ComponentId) -> Option<&'a ComponentId>,
) -> bool {
    followed.is_empty() || affected.is_empty() || touches(followed, affected, group_of)
}

/// Whether a tenant running on `runs_on` (components or groups) is concerned by
/// `affected`: only when they meet; a tenant is never told of what is not theirs.
pub fn concerns<'a>(
    runs_on: &[ComponentId],
    affected: &[ComponentId],
    group_of: impl Fn(&ComponentId) -> Option<&'a ComponentId>,
) -> bool {
    touches(runs_on, affected, group_of)
}

fn touches<'a>(
    mine: &[ComponentId],
    affected: &[ComponentId],
    group_of: impl Fn(&ComponentId) -> Option<&'a ComponentId>,
) -> bool {
    affected
        .iter()
        .any(|a| mine.contains(a) || group_of(a).is_some_and(|g| mine.contains(g)))
}

/// What happens after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// The retry budget is spent: a dead letter.
    Dead,
    /// Refused for good (a permanent error): no retry.
    Failed,
}

/// The wait before the next attempt after `attempts` failed ones: seconds at first,
/// doubling up to [`longest_gap`], with up to a quarter more or less (`jitter` in
/// 0..1) so retries after an outage do not arrive together.
pub fn retry_delay(attempts: i32, jitter: f64) -> Duration {
    let n = u32::try_from(attempts.clamp(1, 30) - 1).unwrap_or(0);
    let base = 5_i64.saturating_mul(1_i64 << n.min(20));
    let capped = base.min(longest_gap().num_seconds());
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let spread = (capped as f64 * (0.75 + 0.5 * jitter.clamp(0.0, 1.0))) as i64;
    Duration::seconds(spread.max(1))
}

/// Decides after a failure: `first_due` is when the delivery was first due, `attempts`
/// the failed attempts so far (this one included).
pub fn after_failure(
    temporary: bool,
    first_due: DateTime<Utc>,
    attempts: i32,
    now: DateTime<Utc>,
    jitter: f64,
) -> AfterFailure {
    if !temporary {
        return AfterFailure::Failed;
    }
    let next = now + retry_delay(attempts, jitter);
    if next - first_due > retry_budget() {
        AfterFailure::Dead
    } else {
        AfterFailure::Retry(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<ComponentId> {
        v.iter().map(|s| ComponentId::from(*s)).collect()
    }

    #[test]
    fn addresses_are_checked_and_named() {
        assert_eq!(
            email("email", " ops@example.com ").ok().as_deref(),
            Some("ops@example.com")
        );
        for bad in [
            "",
            "no-at",
            "a@b",
            "two@example.com,three@example.com",
            "a b@example.com",
            "x@exa\u{0}mple.com",
        ] {
            let e = email("subscriber.email", bad).err();
            assert_eq!(
                e.as_ref().and_then(DomainError::field),
                Some("subscriber.email"),
                "{bad}"
            );
        }
        assert!(endpoint("endpoint", "https://hooks.example.com/x").is_ok());
        assert!(endpoint("endpoint", "ftp://example.com").is_err());
        assert_eq!(
            address_key(Channel::Email, "Ops@Example.com", None),
            address_key(Channel::Email, "ops@example.com ", None)
        );
    }

    #[test]
    fn followers_of_a_group_hear_of_its_components() {
        let group = ComponentId::from("pod2");
        let group_of = |c: &ComponentId| (c.as_str() == "voice").then_some(&group);
        assert!(follows(&[], &ids(&["voice"]), group_of), "everything");
        assert!(follows(&ids(&["pod2"]), &ids(&["voice"]), group_of));
        assert!(follows(&ids(&["voice"]), &ids(&["voice"]), group_of));
        assert!(!follows(&ids(&["kb"]), &ids(&["voice"]), group_of));
        assert!(
            follows(&ids(&["kb"]), &[], group_of),
            "a page-wide incident reaches all"
        );
        assert!(concerns(&ids(&["pod2"]), &ids(&["voice"]), group_of));
        assert!(
            !concerns(&ids(&["pod2"]), &[], group_of),
            "tenants hear only of theirs"
        );
    }

    #[test]
    fn retries_start_within_seconds_and_last_three_days() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert!(retry_delay(1, 0.5) <= Duration::seconds(10));
        assert!(retry_delay(30, 1.0) <= longest_gap() + longest_gap() / 4);
        let mut now = t0;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match after_failure(true, t0, attempts, now, 0.5) {
                AfterFailure::Retry(next) => now = next,
                AfterFailure::Dead => break,
                AfterFailure::Failed => panic!("temporary failures are retried"),
            }
        }
        assert!(now - t0 >= Duration::hours(68), "{}", now - t0);
        assert!(attempts > 15, "{attempts}");
        assert_eq!(after_failure(false, t0, 1, t0, 0.5), AfterFailure::Failed);
    }
}
