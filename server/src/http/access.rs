//! One structured line per request: method, path (never the query: `?api_key=`
//! carries a secret), status, latency, client address, request id and, on `/v1`, the
//! token's name. Admin requests are logged at info, public ones at debug
//! (`RUST_LOG=herald::access=debug`). The client address comes from
//! `X-Forwarded-For` / `Forwarded` only when the peer is a trusted proxy.

use std::{net::IpAddr, time::Instant};

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use ipnet::IpNet;

use crate::store::Actor;

#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The trusted reverse proxies.
    pub proxies: Vec<IpNet>,
    /// The path every route lives under.
    pub base: String,
}

/// The client's address, as far as it can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn trusted(proxies: &[IpNet], ip: IpAddr) -> bool {
    proxies.iter().any(|n| n.contains(&ip))
}

/// The nearest address in a forwarding chain that is not a trusted proxy.
fn nearest_untrusted(chain: &[IpAddr], proxies: &[IpNet]) -> Option<IpAddr> {
    chain
        .iter()
        .rev()
        .find(|ip| !trusted(proxies, **ip))
        .or_else(|| chain.first())
        .copied()
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    // `[::1]:8080`, `192.0.2.1:8080`
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.rsplit_once(':')?.0.parse().ok()
}

/// The client address of a request that came from `peer`.
pub fn client_addr(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    forwarded: Option<&str>,
    proxies: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted(proxies, peer) {
        return Some(peer);
    }
    let mut chain: Vec<IpAddr> = Vec::new();
    if let Some(xff) = forwarded_for {
        chain.extend(xff.split(',').filter_map(parse_ip));
    } else if let Some(f) = forwarded {
        chain.extend(f.split(',').filter_map(|part| {
            part.split(';')
                .find_map(|kv| {
                    kv.trim()
                        .strip_prefix("for=")
                        .or_else(|| kv.trim().strip_prefix("For="))
                })
                .and_then(parse_ip)
        }));
    }
    chain.push(peer);
    nearest_untrusted(&chain, proxies)
}

/// The client address of a request, through the trusted proxies.
pub fn client_of(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    let config = req
        .app_data::<web::Data<Config>>()
        .map(|c| c.get_ref().clone())
        .unwrap_or_default();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    client_addr(
        req.peer_addr().map(|a| a.ip()),
        header("x-forwarded-for"),
        header("forwarded"),
        &config.proxies,
    )
}

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let n: u64 = rand::random();
            format!("{n:016x}")
        })
}

pub async fn log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let config = req
        .app_data::<web::Data<Config>>()
        .map(|c| c.get_ref().clone())
        .unwrap_or_default();
    let admin = req
        .path()
        .strip_prefix(config.base.as_str())
        .is_some_and(|p| p.starts_with("/v1"));
    let metrics = req
        .app_data::<web::Data<crate::app::AppState>>()
        .map(|s| s.metrics.clone());
    let count = move |method: &str, status: u16, started: Instant| {
        if let Some(m) = &metrics {
            m.http_requests
                .with_label_values(&[method, &status.to_string()])
                .inc();
            m.http_duration
                .with_label_values(&[method])
                .observe(started.elapsed().as_secs_f64());
        }
    };
    // Public traffic, unlogged: counted, nothing more (the hot path stays fast).
    if !admin && !tracing::enabled!(target: "herald::access", tracing::Level::DEBUG) {
        let method = req.method().clone();
        let res = next.call(req).await;
        let status = match &res {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        count(method.as_str(), status, started);
        return res;
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let client = client_addr(
        req.peer_addr().map(|a| a.ip()),
        header("x-forwarded-for").as_deref(),
        header("forwarded").as_deref(),
        &config.proxies,
    );
    let id = request_id(&req);
    req.extensions_mut().insert(ClientAddr(client));
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let res = next.call(req).await;
    let (status, token) = match &res {
        Ok(r) => (
            r.status().as_u16(),
            r.request()
                .extensions()
                .get::<Actor>()
                .map(|a| a.name.clone()),
        ),
        Err(e) => (e.as_response_error().status_code().as_u16(), None),
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    count(&method, status, started);
    let client = client.map(|c| c.to_string()).unwrap_or_default();
    if admin {
        tracing::info!(target: "herald::access", %method, %path, status, latency_ms, %client, request_id = %id, token = token.as_deref().unwrap_or(""), "{method} {path} {status}");
    } else {
        tracing::debug!(target: "herald::access", %method, %path, status, latency_ms, %client, request_id = %id, "{method} {path} {status}");
    }
    res.map(|mut r| {
        if let Ok(v) = HeaderValue::from_str(&id) {
            r.headers_mut().insert(REQUEST_ID, v);
        }
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().filter_map(|n| n.parse().ok()).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxies = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // Not a proxy: its own address, whatever it claims.
        assert_eq!(
            client_addr(ip("203.0.113.9"), Some("1.2.3.4"), None, &proxies),
            ip("203.0.113.9")
        );
        // A proxy: the nearest address it did not add itself.
        assert_eq!(
            client_addr(
                ip("127.0.0.1"),
                Some("6.6.6.6, 198.51.100.7, 10.1.2.3"),
                None,
                &proxies
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_addr(
                ip("10.0.0.1"),
                None,
                Some("for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\""),
                &proxies
            ),
            ip("2001:db8::1")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_addr(ip("10.0.0.1"), None, None, &proxies),
            ip("10.0.0.1")
        );
        // Nothing trusted configured: the peer.
        assert_eq!(
            client_addr(ip("10.0.0.1"), Some("1.2.3.4"), None, &[]),
            ip("10.0.0.1")
        );
    }
}
