//! Logs on standard error: readable lines by default (coloured only on a terminal),
//! JSON lines with `log_format = "json"`. What is logged comes from `RUST_LOG` when set,
//! else from the `log` setting (default `info`); `herald::access=debug` adds a line
//! for every public request, not only the admin API's.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

pub fn init(format: &str, log: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            EnvFilter::try_new(format!(
                "{log},sqlx=warn,sea_orm=warn,sea_orm_migration=warn"
            ))
        })
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Chooses rustls's cryptography (ring) for the whole process, once: TLS to PostgreSQL
/// and to the SMTP server use it, whatever other crates in the build also offer.
pub fn crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
