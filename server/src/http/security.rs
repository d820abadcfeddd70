//! The security headers every response carries, pages and documents, errors included:
//! no sniffing, no framing, a strict Content-Security-Policy (only Herald's own script
//! and style; images as the settings allow), a referrer policy, and HSTS when the
//! operator turns it on. `/v1` answers are never cached.

use actix_web::{
    http::header::{self, HeaderName, HeaderValue},
    middleware::DefaultHeaders,
};

use crate::config::Settings;

pub fn headers(settings: &Settings) -> DefaultHeaders {
    let csp = HeaderValue::from_str(&settings.content_security_policy())
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let mut h = DefaultHeaders::new()
        .add((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .add((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .add((
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .add((header::CONTENT_SECURITY_POLICY, csp));
    if settings.hsts_max_age > 0
        && let Ok(v) = HeaderValue::from_str(&format!("max-age={}", settings.hsts_max_age))
    {
        h = h.add((header::STRICT_TRANSPORT_SECURITY, v));
    }
    h
}

/// For the admin API: answers (tokens' keys among them) are never kept by a cache.
pub fn no_store() -> DefaultHeaders {
    DefaultHeaders::new().add((
        HeaderName::from_static("cache-control"),
        HeaderValue::from_static("no-store"),
    ))
}
