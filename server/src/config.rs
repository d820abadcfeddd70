//! Typed settings from defaults, an optional TOML file and `HERALD_*` variables, in that
//! order; checked once at start. A key Herald does not know, in the file or the
//! environment, is an error that names it: a typo must never start Herald on the wrong
//! database. Secrets can be read from files (`HERALD_DATABASE_URL_FILE`).

use std::{fmt, net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on (`HERALD_BIND`).
    pub bind: String,
    /// `sqlite://FILE?mode=rwc` or `postgres://...` (`HERALD_DATABASE_URL`).
    pub database_url: String,
    /// A file holding the database URL (`HERALD_DATABASE_URL_FILE`); wins over
    /// `database_url`.
    pub database_url_file: Option<PathBuf>,
    /// The public address of the status page, for absolute links (`HERALD_PUBLIC_URL`).
    /// Its path, if any, is where every route lives (`https://example.com/status/`).
    /// When unset, the address stored with the page is kept.
    pub public_url: Option<String>,
    /// A folder whose templates override the built-in ones (`HERALD_TEMPLATES_DIR`).
    pub templates_dir: Option<PathBuf>,
    /// `pretty` or `json` (`HERALD_LOG_FORMAT`).
    pub log_format: String,
    /// What to log, as `RUST_LOG` directives (`HERALD_LOG`, default `info`);
    /// `RUST_LOG` wins when set.
    pub log: String,
    /// How often, in milliseconds, an instance checks the shared database for changes
    /// made by other instances (`HERALD_POLL_INTERVAL_MS`).
    pub poll_interval_ms: u64,
    /// HTTP worker threads (`HERALD_WORKERS`); defaults to the number of cores.
    pub workers: Option<usize>,
    /// Apply pending migrations when `serve` starts (`HERALD_MIGRATE`, default true).
    /// Set false where the database role has no DDL rights; run `herald migrate` with
    /// one that does.
    pub migrate: bool,
    /// Seconds to let in-flight requests finish after SIGTERM or SIGINT
    /// (`HERALD_SHUTDOWN_TIMEOUT`).
    pub shutdown_timeout: u64,
    /// Seconds a client has to send a request's headers before it is answered 408 and
    /// the connection closed (`HERALD_HEADER_READ_TIMEOUT`, default 10).
    pub header_read_timeout: u64,
    /// Seconds a client has to send a request's body to the admin API before it is
    /// answered 408 (`HERALD_BODY_READ_TIMEOUT`, default 30).
    pub body_read_timeout: u64,
    /// Wrong API keys one client address may present in a minute before it must wait
    /// (429 with `Retry-After`) (`HERALD_AUTH_FAILURE_LIMIT`, default 20; 0 turns the
    /// throttle off). Behind a reverse proxy, set `trusted_proxies` so clients are told
    /// apart.
    pub auth_failure_limit: u32,
    /// Addresses or CIDRs of reverse proxies whose `X-Forwarded-For` / `Forwarded`
    /// headers name the client (`HERALD_TRUSTED_PROXIES`, comma-separated).
    pub trusted_proxies: String,
    /// SQLite's `synchronous`: `full` (default: an acknowledged write survives a power
    /// loss) or `normal` (it survives a crash of Herald or the OS, not a power loss; one
    /// fsync fewer per write) (`HERALD_SQLITE_SYNCHRONOUS`).
    pub sqlite_synchronous: String,
    /// Origins (comma-separated, such as `https://cdn.example.com`) that images in
    /// updates and postmortems may load from, beside the page's own
    /// (`HERALD_IMAGE_HOSTS`).
    pub image_hosts: String,
    /// Seconds of `Strict-Transport-Security` to send (`HERALD_HSTS_MAX_AGE`; 0, the
    /// default, sends none). Set it when the page is served over https only.
    pub hsts_max_age: u64,
    /// Where mail goes (`HERALD_SMTP_URL`): lettre's connection URL, such as
    /// `smtp://127.0.0.1:2525`, `smtps://user:pass@host` or `smtp://host?tls=required`.
    /// Unset, mail is written as `.eml` files to `mail_dir`.
    pub smtp_url: Option<String>,
    /// The sender (`HERALD_MAIL_FROM`), such as `Acme Status <status@acme.com>`; by
    /// default the page's name at `status@` the public URL's host.
    pub mail_from: Option<String>,
    /// The folder mail is written to when no SMTP server is set (`HERALD_MAIL_DIR`).
    pub mail_dir: PathBuf,
    /// Messages per second at most, to one SMTP server (`HERALD_SMTP_RATE`).
    pub smtp_rate: u32,
    /// Connections at most to the SMTP server (`HERALD_SMTP_CONNECTIONS`).
    pub smtp_connections: u32,
    /// Accept any certificate and host name from the SMTP server
    /// (`HERALD_SMTP_TLS_INSECURE`; never in production).
    pub smtp_tls_insecure: bool,
    /// A PEM file with the RSA or Ed25519 key that signs mail with DKIM
    /// (`HERALD_DKIM_KEY`), with `HERALD_DKIM_SELECTOR` and `HERALD_DKIM_DOMAIN`.
    pub dkim_key: Option<PathBuf>,
    pub dkim_selector: Option<String>,
    pub dkim_domain: Option<String>,
    /// Deliveries sent at once (`HERALD_DELIVERY_CONCURRENCY`).
    pub delivery_concurrency: usize,
    /// Seconds a worker holds a delivery it is sending before others may take it over
    /// (`HERALD_DELIVERY_LEASE_SECS`).
    pub delivery_lease_secs: u64,
    /// Address ranges (comma-separated CIDRs or addresses, such as `10.1.0.0/16`) that
    /// webhook and chat endpoints may resolve to although they are loopback, private,
    /// link-local or otherwise not public (`HERALD_WEBHOOK_ALLOW`; empty by default: only
    /// public addresses). Checked at every attempt, after DNS.
    pub webhook_allow: String,
    /// Responders reminded before a promised update is due when the page lists none
    /// (`HERALD_RESPONDER_EMAILS`, comma-separated addresses).
    pub responder_emails: String,
    /// The responders' webhook when the page sets none (`HERALD_RESPONDER_WEBHOOK_URL`).
    pub responder_webhook_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://herald.db?mode=rwc".into(),
            database_url_file: None,
            public_url: None,
            templates_dir: None,
            log_format: "pretty".into(),
            log: "info".into(),
            poll_interval_ms: 500,
            workers: None,
            migrate: true,
            shutdown_timeout: 10,
            header_read_timeout: 10,
            body_read_timeout: 30,
            auth_failure_limit: 20,
            trusted_proxies: String::new(),
            sqlite_synchronous: "full".into(),
            image_hosts: String::new(),
            hsts_max_age: 0,
            smtp_url: None,
            mail_from: None,
            mail_dir: PathBuf::from("mail"),
            smtp_rate: 50,
            smtp_connections: 4,
            smtp_tls_insecure: false,
            dkim_key: None,
            dkim_selector: None,
            dkim_domain: None,
            delivery_concurrency: 64,
            delivery_lease_secs: 60,
            webhook_allow: String::new(),
            responder_emails: String::new(),
            responder_webhook_url: None,
        }
    }
}

/// A database URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(a URL that does not parse)".to_owned(),
    }
}

/// Hides the database password.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("database_url", &redact(&self.database_url))
            .field("database_url_file", &self.database_url_file)
            .field("public_url", &self.public_url)
            .field("templates_dir", &self.templates_dir)
            .field("log_format", &self.log_format)
            .field("log", &self.log)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("workers", &self.workers)
            .field("migrate", &self.migrate)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("auth_failure_limit", &self.auth_failure_limit)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .field("image_hosts", &self.image_hosts)
            .field("hsts_max_age", &self.hsts_max_age)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact))
            .field("mail_from", &self.mail_from)
            .field("mail_dir", &self.mail_dir)
            .field("smtp_rate", &self.smtp_rate)
            .field("smtp_connections", &self.smtp_connections)
            .field("smtp_tls_insecure", &self.smtp_tls_insecure)
            .field("dkim_key", &self.dkim_key)
            .field("dkim_selector", &self.dkim_selector)
            .field("dkim_domain", &self.dkim_domain)
            .field("delivery_concurrency", &self.delivery_concurrency)
            .field("delivery_lease_secs", &self.delivery_lease_secs)
            .field("webhook_allow", &self.webhook_allow)
            .field("responder_emails", &self.responder_emails)
            .field("responder_webhook_url", &self.responder_webhook_url)
            .finish()
    }
}

/// `HERALD_*` variables that are not settings: the config file's path (read by the
/// command line) and the test suite's database.
const NOT_SETTINGS: &[&str] = &["config", "test_database_url"];

impl Settings {
    /// `responder_emails` as addresses.
    pub fn responders(&self) -> anyhow::Result<Vec<String>> {
        self.responder_emails
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| {
                crate::domain::notify::email("responder_emails", e)
                    .map_err(|err| anyhow::anyhow!("{err}"))
            })
            .collect()
    }

    /// Loads defaults, then `file` if given, then `HERALD_*` variables.
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Settings> {
        Self::load_from(file, Env::prefixed("HERALD_"))
    }

    fn load_from(file: Option<&std::path::Path>, env: Env) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                anyhow::bail!("config file {} does not exist", file.display());
            }
            fig = fig.merge(Toml::file(file));
        }
        let mut settings: Settings = fig
            .merge(env.ignore(NOT_SETTINGS))
            .extract()
            .map_err(|e| anyhow::anyhow!("{}", describe(e)))?;
        settings.read_secret_files()?;
        settings.check()?;
        Ok(settings)
    }

    fn read_secret_files(&mut self) -> anyhow::Result<()> {
        if let Some(path) = &self.database_url_file {
            let url = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("database_url_file {}: {e}", path.display()))?;
            self.database_url = url.trim().to_owned();
        }
        Ok(())
    }

    pub fn check(&self) -> anyhow::Result<()> {
        self.bind.parse::<SocketAddr>().map_err(|e| {
            anyhow::anyhow!(
                "bind '{}' is not an address like 127.0.0.1:8080: {e}",
                self.bind
            )
        })?;
        let scheme_ok = self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://");
        if !scheme_ok || url::Url::parse(&self.database_url).is_err() {
            anyhow::bail!(
                "database_url {} is not a sqlite: or postgres:// URL",
                redact(&self.database_url)
            );
        }
        if let Some(u) = &self.public_url {
            let parsed = url::Url::parse(u)
                .map_err(|e| anyhow::anyhow!("public_url '{u}' is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
                anyhow::bail!("public_url '{u}' must be an http:// or https:// address");
            }
            if parsed.query().is_some() || parsed.fragment().is_some() {
                anyhow::bail!("public_url '{u}' must not have a query or a fragment");
            }
        }
        if !["full", "normal"].contains(&self.sqlite_synchronous.as_str()) {
            anyhow::bail!("sqlite_synchronous must be 'full' or 'normal'");
        }
        if !["pretty", "json"].contains(&self.log_format.as_str()) {
            anyhow::bail!("log_format must be 'pretty' or 'json'");
        }
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .map_err(|e| anyhow::anyhow!("log '{}' is not a log filter: {e}", self.log))?;
        self.proxies()?;
        self.image_origins()?;
        if let Some(u) = &self.smtp_url {
            let ok = url::Url::parse(u)
                .ok()
                .is_some_and(|p| matches!(p.scheme(), "smtp" | "smtps") && p.host().is_some());
            if !ok {
                anyhow::bail!(
                    "smtp_url {} is not an smtp:// or smtps:// URL with a host",
                    redact(u)
                );
            }
        }
        if let Some(f) = &self.mail_from {
            f.parse::<lettre::message::Mailbox>().map_err(|e| {
                anyhow::anyhow!(
                    "mail_from '{f}' is not an address like 'Acme Status <status@acme.com>': {e}"
                )
            })?;
        }
        if self.smtp_rate == 0 || self.smtp_connections == 0 || self.delivery_concurrency == 0 {
            anyhow::bail!(
                "smtp_rate, smtp_connections and delivery_concurrency must be at least 1"
            );
        }
        crate::domain::webhook::parse_allow(&self.webhook_allow).map_err(|e| anyhow::anyhow!(e))?;
        self.responders()?;
        if let Some(u) = &self.responder_webhook_url {
            crate::domain::notify::endpoint("responder_webhook_url", u)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        if !(1..=3600).contains(&self.header_read_timeout)
            || !(1..=3600).contains(&self.body_read_timeout)
        {
            anyhow::bail!(
                "header_read_timeout and body_read_timeout must be between 1 and 3600 seconds"
            );
        }
        if self.delivery_lease_secs < 5 {
            anyhow::bail!("delivery_lease_secs must be at least 5");
        }
        let dkim = [
            self.dkim_key.is_some(),
            self.dkim_selector.is_some(),
            self.dkim_domain.is_some(),
        ];
        if dkim.iter().any(|x| *x) && !dkim.iter().all(|x| *x) {
            anyhow::bail!("DKIM needs all of dkim_key, dkim_selector and dkim_domain");
        }
        Ok(())
    }

    /// The image hosts, as origins.
    pub fn image_origins(&self) -> anyhow::Result<Vec<String>> {
        self.image_hosts
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|h| {
                let u = url::Url::parse(h)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "image_hosts: '{h}' is not an origin like https://cdn.example.com"
                        )
                    })?;
                Ok(u.origin().ascii_serialization())
            })
            .collect()
    }

    /// The Content-Security-Policy of every response: only Herald's own script and
    /// style, images from the page, inline `data:` images and the image hosts.
    pub fn content_security_policy(&self) -> String {
        let hosts = self.image_origins().unwrap_or_default().join(" ");
        let img = if hosts.is_empty() {
            "'self' data:".to_owned()
        } else {
            format!("'self' data: {hosts}")
        };
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src {img}; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    }

    /// The trusted proxies, parsed.
    pub fn proxies(&self) -> anyhow::Result<Vec<IpNet>> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!("trusted_proxies: '{s}' is not an address or a CIDR")
                    })
            })
            .collect()
    }
}

/// Figment's errors, said the way an operator reads them: which key, from where.
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let from = e
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            match &e.kind {
                figment::error::Kind::UnknownField(field, _) => {
                    let var = format!("HERALD_{}", field.to_ascii_uppercase());
                    if from.contains("environment") {
                        format!("unknown setting {var} in the environment (see `herald --help` for the settings)")
                    } else {
                        format!("unknown setting '{field}' in {from} (see `herald --help` for the settings)")
                    }
                }
                _ => format!("{e}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> Env {
        Env::prefixed("HERALD_UNIT_TEST_NOTHING_")
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("herald.toml");
        std::fs::write(&file, "databse_url = \"postgres://x@db/herald\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let err = Settings::load_from(Some(&file), no_env())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("databse_url"), "{err}");
    }

    #[test]
    fn secrets_come_from_files_and_passwords_never_show() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let secret = dir.path().join("db");
        std::fs::write(
            &secret,
            "postgres://herald:s3cret@db.internal:5432/herald\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("herald.toml");
        std::fs::write(
            &file,
            format!("database_url_file = {:?}\n", secret.display().to_string()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let s = Settings::load_from(Some(&file), no_env()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.database_url,
            "postgres://herald:s3cret@db.internal:5432/herald"
        );
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(!redact(&s.database_url).contains("s3cret"));
    }

    #[test]
    fn proxies_are_addresses_or_cidrs() {
        let s = Settings {
            trusted_proxies: "10.0.0.0/8, 127.0.0.1,::1".into(),
            ..Settings::default()
        };
        assert_eq!(s.proxies().map(|p| p.len()).ok(), Some(3));
        let bad = Settings {
            trusted_proxies: "10.0.0.0/8,proxy".into(),
            ..Settings::default()
        };
        assert!(bad.check().is_err());
    }
}
