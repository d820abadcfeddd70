//! Names people read on the page, in feeds and in calendars: one line of visible text.

use super::DomainError;

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
