use rand::{Rng, distr::Alphanumeric};

/// A 12-character lowercase alphanumeric id, like Statuspage's.
pub fn new_id() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .map(|c| (c as char).to_ascii_lowercase())
        .take(12)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_twelve_lowercase_alphanumerics() {
        let id = super::new_id();
        assert_eq!(id.len(), 12);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        );
        assert_ne!(super::new_id(), id);
    }
}
