//! The links in mails: confirm a subscription, manage it, unsubscribe in one click. Each
//! carries an HMAC of the subscriber's id and a nonce under the page's link secret, so it
//! cannot be guessed, and changing the nonce voids the links sent before.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::store::entity::subscribers;

type HmacSha256 = Hmac<Sha256>;

/// How long a confirmation link works.
pub fn confirm_lifetime() -> Duration {
    Duration::days(7)
}

#[derive(Clone)]
pub struct Links {
    secret: Vec<u8>,
    /// The page's public URL, without a trailing slash.
    url: String,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not a link Herald made (or one voided since).
    Invalid,
    Expired,
}

impl Links {
    pub fn new(secret: &str, url: &str) -> Links {
        Links {
            secret: secret.as_bytes().to_vec(),
            url: url.trim_end_matches('/').to_owned(),
        }
    }

    fn mac(&self, parts: &[&str]) -> HmacSha256 {
        // An HMAC takes a key of any length.
        let mut m = match HmacSha256::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => unreachable_key(),
        };
        for p in parts {
            m.update(p.as_bytes());
            m.update(b"\x1f");
        }
        m
    }

    fn token(&self, parts: &[&str]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(parts).finalize().into_bytes())
    }

    fn verify(&self, parts: &[&str], token: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(token.trim())
            .is_ok_and(|t| self.mac(parts).verify_slice(&t).is_ok())
    }

    pub fn confirm_url(&self, s: &subscribers::Model, now: DateTime<Utc>) -> String {
        let exp = (now + confirm_lifetime()).timestamp().to_string();
        let t = self.token(&["confirm", s.id.as_str(), &s.confirm_nonce, &exp]);
        format!("{}/subscribe/confirm?s={}&e={exp}&t={t}", self.url, s.id)
    }

    pub fn check_confirm(
        &self,
        s: &subscribers::Model,
        exp: i64,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refused> {
        if !self.verify(
            &["confirm", s.id.as_str(), &s.confirm_nonce, &exp.to_string()],
            token,
        ) {
            return Err(Refused::Invalid);
        }
        if now.timestamp() > exp {
            return Err(Refused::Expired);
        }
        Ok(())
    }

    fn manage_token(&self, s: &subscribers::Model) -> String {
        self.token(&["manage", s.id.as_str(), &s.manage_nonce])
    }

    pub fn manage_url(&self, s: &subscribers::Model) -> String {
        format!(
            "{}/subscription?s={}&t={}",
            self.url,
            s.id,
            self.manage_token(s)
        )
    }

    /// The one-click unsubscribe address (RFC 8058): the same token as the manage page.
    pub fn unsubscribe_url(&self, s: &subscribers::Model) -> String {
        format!(
            "{}/unsubscribe?s={}&t={}",
            self.url,
            s.id,
            self.manage_token(s)
        )
    }

    /// A tenant's own maintenance calendar (`/maintenance.ics?tenant=...`): unguessable,
    /// stable, and void if the page's link secret changes.
    pub fn calendar_url(&self, tenant: &str) -> String {
        let t = self.token(&["calendar", tenant]);
        format!("{}/maintenance.ics?tenant={tenant}.{t}", self.url)
    }

    /// The tenant a calendar parameter names, if it is one Herald made.
    pub fn check_calendar<'a>(&self, param: &'a str) -> Option<&'a str> {
        let (tenant, token) = param.split_once('.')?;
        self.verify(&["calendar", tenant], token).then_some(tenant)
    }

    pub fn check_manage(&self, s: &subscribers::Model, token: &str) -> Result<(), Refused> {
        if self.verify(&["manage", s.id.as_str(), &s.manage_nonce], token) {
            Ok(())
        } else {
            Err(Refused::Invalid)
        }
    }
}

#[cold]
fn unreachable_key() -> ! {
    // `new_from_slice` fails only for fixed-size keys; HMAC takes any.
    panic!("HMAC refused a key")
}

/// A fresh link secret.
pub fn new_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, SubscriberState};

    fn sub() -> subscribers::Model {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        subscribers::Model {
            id: "sub1".into(),
            page_id: "p".into(),
            mode: Channel::Email,
            email: Some("a@example.com".into()),
            endpoint: None,
            address_key: "k".into(),
            incident_id: None,
            state: SubscriberState::Unconfirmed,
            skip_confirmation_notification: false,
            confirm_nonce: "n1".into(),
            manage_nonce: "m1".into(),
            bounce_count: 0,
            quarantined_at: None,
            purge_at: None,
            confirmed_at: None,
            unsubscribed_at: None,
            created_at: t,
            updated_at: t,
            signing_secret: None,
            previous_secret: None,
            previous_secret_until: None,
            follows_all: true,
        }
    }

    fn query(url: &str, key: &str) -> String {
        url::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_default()
    }

    #[test]
    fn links_verify_expire_and_are_voided_by_a_new_nonce() {
        let links = Links::new("secret", "https://status.example.com/");
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let s = sub();
        let url = links.confirm_url(&s, now);
        assert!(url.starts_with("https://status.example.com/subscribe/confirm?s=sub1&e="));
        let (e, t) = (
            query(&url, "e").parse::<i64>().unwrap_or(0),
            query(&url, "t"),
        );
        assert_eq!(links.check_confirm(&s, e, &t, now), Ok(()));
        assert_eq!(
            links.check_confirm(&s, e, &t, now + Duration::days(8)),
            Err(Refused::Expired)
        );
        assert_eq!(
            links.check_confirm(&s, e + 1, &t, now),
            Err(Refused::Invalid)
        );
        let mut renewed = s.clone();
        renewed.confirm_nonce = "n2".into();
        assert_eq!(
            links.check_confirm(&renewed, e, &t, now),
            Err(Refused::Invalid)
        );
        let m = query(&links.manage_url(&s), "t");
        assert_eq!(links.check_manage(&s, &m), Ok(()));
        assert_eq!(links.check_manage(&s, "forged"), Err(Refused::Invalid));
        assert_eq!(
            Links::new("other", "x").check_manage(&s, &m),
            Err(Refused::Invalid)
        );
    }
}
