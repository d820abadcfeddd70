//! The rules of webhook and chat delivery, free of storage and transport: the retry
//! schedule, when an endpoint is paused, Standard Webhooks signing, and which addresses
//! Herald refuses to send to (SSRF).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::Sha256;

/// How long an endpoint may fail without a break before it is paused.
pub fn pause_after() -> Duration {
    Duration::days(3)
}

/// How long an endpoint fails before its owner is told (a blip is not worth a mail).
pub fn warn_after() -> Duration {
    Duration::minutes(15)
}

/// How long the previous secret is used beside the new one after a rotation.
pub fn rotation_window() -> Duration {
    Duration::hours(24)
}

/// The most of a response kept in the ledger.
pub const RESPONSE_EXCERPT: usize = 4 * 1024;

/// The longest wait for an endpoint's answer.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest `Retry-After` honoured.
pub fn longest_retry_after() -> Duration {
    Duration::hours(6)
}

/// The wait before the next attempt after `attempts` failed ones: 5 s, 30 s, 2 min,
/// 10 min, 30 min, 1 h, 2 h, then 4 h, with up to a quarter more or less (`jitter` in
/// 0..1) so an endpoint that comes back is not hit by everyone at once.
pub fn retry_delay(attempts: i32, jitter: f64) -> Duration {
    const STEPS: [i64; 8] = [5, 30, 120, 600, 1_800, 3_600, 7_200, 14_400];
    let n = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
    let base = STEPS[n.min(STEPS.len() - 1)];
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let spread = (base as f64 * (0.75 + 0.5 * jitter.clamp(0.0, 1.0))) as i64;
    Duration::seconds(spread.max(1))
}

/// A fresh signing secret: `whsec_` and the base64 of 24 random bytes.
pub fn new_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The key a `whsec_` secret stands for.
fn key(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()
}

/// One signature (`v1,<base64>`) of `body` sent as message `id` at `timestamp`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: the current secret's signature and, during a
/// rotation, the previous one's, space-separated.
pub fn signature_header(
    current: &str,
    previous: Option<(&str, DateTime<Utc>)>,
    now: DateTime<Utc>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    let mut out = sign(current, id, timestamp, body)?;
    if let Some((prev, until)) = previous
        && until > now
        && let Some(s) = sign(prev, id, timestamp, body)
    {
        out.push(' ');
        out.push_str(&s);
    }
    Some(out)
}

/// Whether a receiver holding `secret` accepts `header` (any of its signatures).
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(expected) = sign(secret, id, timestamp, body) else {
        return false;
    };
    header.split(' ').any(|s| s == expected)
}

/// Why an address is refused, or `None` when it is a public one (or allowed).
pub fn refused(ip: IpAddr, allow: &[IpNet]) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    if allow.iter().any(|n| n.contains(&ip)) {
        return None;
    }
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_unspecified() || o[0] == 0 {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local or cloud metadata address")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("a shared (carrier-grade NAT) address")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        Some("an IETF protocol address")
    } else if (o[0] == 198 && (o[1] & 0xfe) == 18) || ip.is_documentation() {
        Some("a benchmarking or documentation address")
    } else if ip.is_multicast() || ip.is_broadcast() || o[0] >= 240 {
        Some("a multicast, broadcast or reserved address")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("a private (unique local) address")
    } else if (s[0] & 0xffc0) == 0xfe80 || (s[0] & 0xffc0) == 0xfec0 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if s[0] == 0x64 && s[1] == 0xff9b {
        // NAT64: the IPv4 address inside decides.
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        refused_v4(Ipv4Addr::new(a, b, c, d))
    } else if s[0] == 0x2002 {
        // 6to4 carries an IPv4 address too.
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        refused_v4(Ipv4Addr::new(a, b, c, d))
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        Some("a documentation address")
    } else if s[..6] == [0, 0, 0, 0, 0, 0] {
        Some("an IPv4-compatible address")
    } else {
        None
    }
}

/// Parses `HERALD_WEBHOOK_ALLOW`: comma-separated CIDRs or addresses.
pub fn parse_allow(v: &str) -> Result<Vec<IpNet>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("webhook_allow: '{s}' is not an address or a CIDR"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.3.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "ff02::1",
        ] {
            assert!(refused(ip(bad), &[]).is_some(), "{bad}");
        }
        for good in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert_eq!(refused(ip(good), &[]), None, "{good}");
        }
        let allow = parse_allow("127.0.0.0/8").unwrap_or_default();
        assert_eq!(refused(ip("127.0.0.1"), &allow), None);
        assert_eq!(refused(ip("::ffff:127.0.0.1"), &allow), None);
        assert!(refused(ip("10.0.0.1"), &allow).is_some());
        assert!(parse_allow("nonsense").is_err());
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, id, 1_614_265_330, body).unwrap_or_default();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(secret, id, 1_614_265_330, body, &sig));
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(key(&s).map(|k| k.len()), Some(24));
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let both = signature_header(&s, Some((secret, t + Duration::hours(1))), t, id, 1, body)
            .unwrap_or_default();
        assert!(verify(&s, id, 1, body, &both) && verify(secret, id, 1, body, &both));
        let one = signature_header(&s, Some((secret, t)), t, id, 1, body).unwrap_or_default();
        assert!(!one.contains(' '));
    }

    #[test]
    fn retries_start_within_a_minute_and_grow_to_hours() {
        assert!(retry_delay(1, 0.5) <= Duration::seconds(10));
        assert!(retry_delay(2, 0.5) <= Duration::seconds(45));
        assert!(retry_delay(20, 1.0) >= Duration::hours(4));
        assert!(retry_delay(20, 1.0) <= Duration::hours(5));
    }
}
