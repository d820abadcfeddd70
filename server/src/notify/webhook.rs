//! Sending to webhook and chat endpoints over HTTP, safely: only `http` and `https`, no
//! redirects, a 10 s timeout, certificates verified, and every address Herald connects
//! to checked after DNS (a resolver that refuses loopback, private, link-local, shared,
//! metadata, unspecified and multicast addresses unless `HERALD_WEBHOOK_ALLOW` covers
//! them), so a name that resolves to an inside address later is caught at the attempt.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use reqwest::{
    StatusCode,
    dns::{Addrs, Name, Resolve, Resolving},
};

use crate::domain::webhook::{self as rules, RESPONSE_EXCERPT, TIMEOUT};
use crate::store::deliveries::Outcome;

/// Why an endpoint is refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The resolver every connection goes through.
struct Guard {
    allow: Arc<Vec<IpNet>>,
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok = allowed(&host, &found, &allow)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `host` Herald may connect to; refused when any is not allowed (a
/// name that mixes public and inside addresses is not one to trust).
fn allowed(host: &str, found: &[SocketAddr], allow: &[IpNet]) -> Result<Vec<SocketAddr>, Refused> {
    if found.is_empty() {
        return Err(Refused(format!("'{host}' has no address")));
    }
    for a in found {
        if let Some(why) = rules::refused(a.ip(), allow) {
            return Err(Refused(format!(
                "'{host}' resolves to {}, {why}; Herald does not send there (see HERALD_WEBHOOK_ALLOW)",
                a.ip()
            )));
        }
    }
    Ok(found.to_vec())
}

/// Checks a URL's scheme and, for an address written in it, the address.
fn check_url(url: &url::Url, allow: &[IpNet]) -> Result<(), Refused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused(format!(
            "only http and https endpoints are allowed, not {}:",
            url.scheme()
        )));
    }
    let ip: Option<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(Refused("the endpoint has no host".into())),
    };
    if let Some(ip) = ip
        && let Some(why) = rules::refused(ip, allow)
    {
        return Err(Refused(format!(
            "{ip} is {why}; Herald does not send there (see HERALD_WEBHOOK_ALLOW)"
        )));
    }
    Ok(())
}

/// Checks an endpoint when it is subscribed: scheme, and its addresses now. A name that
/// does not resolve yet is accepted (the check at each attempt is what keeps Herald
/// safe).
pub async fn check_endpoint(raw: &str, allow: &[IpNet]) -> Result<(), Refused> {
    let url = url::Url::parse(raw.trim()).map_err(|e| Refused(format!("not a URL: {e}")))?;
    check_url(&url, allow)?;
    if let Some(url::Host::Domain(host)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host, port))).await;
        if let Ok(Ok(found)) = lookup {
            let found: Vec<SocketAddr> = found.collect();
            if !found.is_empty() {
                allowed(host, &found, allow)?;
            }
        }
    }
    Ok(())
}

/// One request to make.
pub struct Request {
    pub url: String,
    pub body: Vec<u8>,
    /// `webhook-id`, stable across attempts.
    pub id: String,
    /// The current secret and, during a rotation, the previous one with its end.
    pub secret: Option<String>,
    pub previous: Option<(String, DateTime<Utc>)>,
}

/// How an attempt went, with what the endpoint said.
pub struct Answer {
    pub outcome: Outcome,
    pub status: Option<i32>,
    pub excerpt: Option<String>,
}

pub struct Hooks {
    client: reqwest::Client,
    allow: Arc<Vec<IpNet>>,
}

impl Hooks {
    /// `concurrency`: requests in flight at most, all of which may go to one host (many
    /// endpoints of one chat service), so that many connections are kept for reuse.
    pub fn new(allow: Vec<IpNet>, concurrency: usize) -> anyhow::Result<Hooks> {
        let allow = Arc::new(allow);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .no_proxy()
            .https_only(false)
            .user_agent(concat!("Herald-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Guard {
                allow: allow.clone(),
            }))
            .pool_max_idle_per_host(concurrency.max(1))
            .build()?;
        Ok(Hooks { client, allow })
    }

    pub fn allow(&self) -> &[IpNet] {
        &self.allow
    }

    /// Posts one signed request and says how it went.
    #[tracing::instrument(skip_all, fields(url = %r.url, webhook_id = %r.id))]
    pub async fn send(&self, r: Request, now: DateTime<Utc>) -> Answer {
        let url = match url::Url::parse(&r.url) {
            Ok(u) => u,
            Err(e) => return failed(Outcome::Permanent(format!("not a URL: {e}"))),
        };
        if let Err(e) = check_url(&url, &self.allow) {
            return failed(Outcome::Temporary(e.0));
        }
        let timestamp = now.timestamp();
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &r.id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(secret) = &r.secret {
            let previous = r.previous.as_ref().map(|(s, until)| (s.as_str(), *until));
            match rules::signature_header(secret, previous, now, &r.id, timestamp, &r.body) {
                Some(sig) => req = req.header("webhook-signature", sig),
                None => {
                    return failed(Outcome::Permanent("the signing secret is not valid".into()));
                }
            }
        }
        let res = match req.body(r.body).send().await {
            Ok(res) => res,
            Err(e) => return failed(Outcome::Temporary(describe(&e))),
        };
        let status = res.status();
        let retry_after = res
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        let excerpt = excerpt(res).await;
        let code = i32::from(status.as_u16());
        let said = |what: &str| match excerpt.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => format!(
                "HTTP {code} {what}: {}",
                e.chars().take(200).collect::<String>()
            ),
            None => format!("HTTP {code} {what}"),
        };
        let outcome = if status.is_success() {
            Outcome::Delivered
        } else if status == StatusCode::GONE {
            Outcome::Gone(said("(gone: unsubscribed)"))
        } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            match retry_after {
                Some(after) => Outcome::RetryAfter(said("(retry after)"), after),
                None => Outcome::Temporary(said("")),
            }
        } else if status.is_redirection() {
            Outcome::Temporary(said("(redirects are not followed)"))
        } else {
            Outcome::Temporary(said(""))
        };
        Answer {
            outcome,
            status: Some(code),
            excerpt,
        }
    }
}

fn failed(outcome: Outcome) -> Answer {
    Answer {
        outcome,
        status: None,
        excerpt: None,
    }
}

/// An error with its causes, the way an operator reads it.
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Reads at most [`RESPONSE_EXCERPT`] bytes of the response.
async fn excerpt(mut res: reqwest::Response) -> Option<String> {
    let mut buf: Vec<u8> = Vec::new();
    while buf.len() < RESPONSE_EXCERPT {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                let room = RESPONSE_EXCERPT - buf.len();
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned())
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return Some(Duration::seconds(secs.clamp(0, 86_400)));
    }
    DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|t| (t.with_timezone(&Utc) - now).max(Duration::zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_any_connection() {
        let allow: Vec<IpNet> = Vec::new();
        for bad in [
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.1/",
            "http://[::1]:8080/",
            "http://[::ffff:7f00:1]/",
            "file:///etc/passwd",
            "gopher://example.com/",
        ] {
            let u = url::Url::parse(bad).unwrap_or_else(|e| panic!("{bad}: {e}"));
            assert!(check_url(&u, &allow).is_err(), "{bad}");
        }
        let ok = url::Url::parse("https://hooks.example.com/x").unwrap_or_else(|e| panic!("{e}"));
        assert!(check_url(&ok, &allow).is_ok());
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert_eq!(parse_retry_after("120", t), Some(Duration::seconds(120)));
        assert!(parse_retry_after("soon", t).is_none());
    }
}
