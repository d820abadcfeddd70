use tracing_subscriber::{EnvFilter, fmt};

/// Logs to stderr: readable by default, JSON lines with `log_format = "json"`.
/// `RUST_LOG` filters; the default is `info`.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
