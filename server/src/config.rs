//! Typed settings from defaults, an optional TOML file and `HERALD_*` variables, in that
//! order; checked once at start.

use std::{fmt, net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Address to listen on (`HERALD_BIND`).
    pub bind: String,
    /// `sqlite://FILE?mode=rwc` or `postgres://...` (`HERALD_DATABASE_URL`).
    pub database_url: String,
    /// The public address of the status page, for absolute links (`HERALD_PUBLIC_URL`).
    /// Defaults to `http://<bind>`.
    pub public_url: Option<String>,
    /// A folder whose templates override the built-in ones (`HERALD_TEMPLATES_DIR`).
    pub templates_dir: Option<PathBuf>,
    /// `pretty` or `json` (`HERALD_LOG_FORMAT`).
    pub log_format: String,
    /// How often, in milliseconds, an instance checks the shared database for changes
    /// made by other instances (`HERALD_POLL_INTERVAL_MS`).
    pub poll_interval_ms: u64,
    /// HTTP worker threads (`HERALD_WORKERS`); defaults to the number of cores.
    pub workers: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://herald.db?mode=rwc".into(),
            public_url: None,
            templates_dir: None,
            log_format: "pretty".into(),
            poll_interval_ms: 500,
            workers: None,
        }
    }
}

/// Hides the database password.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let db = match url::Url::parse(&self.database_url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("REDACTED"));
                u.to_string()
            }
            _ => self.database_url.clone(),
        };
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("database_url", &db)
            .field("public_url", &self.public_url)
            .field("templates_dir", &self.templates_dir)
            .field("log_format", &self.log_format)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("workers", &self.workers)
            .finish()
    }
}

impl Settings {
    /// Loads defaults, then `file` if given, then `HERALD_*` variables.
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                anyhow::bail!("config file {} does not exist", file.display());
            }
            fig = fig.merge(Toml::file(file));
        }
        let settings: Settings = fig
            .merge(Env::prefixed("HERALD_").ignore(&["config"]))
            .extract()?;
        settings.check()?;
        Ok(settings)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        self.bind.parse::<SocketAddr>().map_err(|e| {
            anyhow::anyhow!(
                "bind '{}' is not an address like 127.0.0.1:8080: {e}",
                self.bind
            )
        })?;
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            anyhow::bail!("database_url must start with sqlite: or postgres://");
        }
        if let Some(u) = &self.public_url {
            url::Url::parse(u)
                .map_err(|e| anyhow::anyhow!("public_url '{u}' is not a URL: {e}"))?;
        }
        if !["pretty", "json"].contains(&self.log_format.as_str()) {
            anyhow::bail!("log_format must be 'pretty' or 'json'");
        }
        Ok(())
    }

    /// The public URL, defaulting to the bound address.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned()
    }
}
