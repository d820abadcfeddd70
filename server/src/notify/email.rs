//! Mail out: lettre's pooled async SMTP transport (plain, STARTTLS or implicit TLS, with
//! certificates and host names verified unless explicitly turned off), or `.eml` files
//! in a folder when no SMTP server is set. A bounded number of connections, a pace limit
//! so providers do not throttle, and a pause when a server says to slow down (421,
//! 4.7.x). Optional DKIM signing that covers the unsubscribe headers.

use std::{
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant, SystemTime},
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart,
        dkim::{
            DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
            DkimSigningKey,
        },
        header::{Header, HeaderName, HeaderValue},
    },
    transport::smtp::{
        PoolConfig,
        client::{Tls, TlsParameters},
    },
};

use super::compose::Rendered;
use crate::config::Settings;
use crate::store::deliveries::Outcome;

/// `List-Unsubscribe` (RFC 2369) with the one-click address.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// `Auto-Submitted: auto-generated` (RFC 3834): out-of-office replies stay away.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(AsyncFileTransport<Tokio1Executor>),
}

/// One mail to send.
pub struct Envelope<'a> {
    pub to: &'a str,
    pub rendered: &'a Rendered,
    pub message_id: &'a str,
    /// The thread's first message, for `In-Reply-To` and `References`.
    pub thread: Option<&'a str>,
    /// The one-click unsubscribe address, for subscribers.
    pub unsubscribe: Option<&'a str>,
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    limiter: DefaultDirectRateLimiter,
    rate: u32,
    /// One permit per SMTP connection: lettre's pool keeps at most that many idle but
    /// opens more when more sends wait; this keeps the connections to the setting.
    connections: tokio::sync::Semaphore,
    connection_limit: usize,
    /// Until when a server asked us to slow down.
    paused_until: Mutex<Option<Instant>>,
    /// How long the next pause lasts (doubles while servers keep asking).
    pause: Mutex<Duration>,
    dkim: Option<DkimConfig>,
    /// Where mail goes, for logs (never the password).
    pub describe: String,
}

/// How long to pause first when a server says to slow down, and at most.
const FIRST_PAUSE: Duration = Duration::from_secs(5);
const LONGEST_PAUSE: Duration = Duration::from_secs(600);
/// The longest one SMTP transaction may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

fn default_from(page_name: &str, public_url: &str) -> anyhow::Result<Mailbox> {
    let host = url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .filter(|h| h.contains('.') && h.parse::<std::net::IpAddr>().is_err())
        .unwrap_or_else(|| "localhost".to_owned());
    let address = format!("status@{host}").parse()?;
    Ok(Mailbox::new(Some(format!("{page_name} Status")), address))
}

impl Mailer {
    pub fn new(settings: &Settings, page_name: &str, public_url: &str) -> anyhow::Result<Mailer> {
        let from = match &settings.mail_from {
            Some(f) => f.parse()?,
            None => default_from(page_name, public_url)?,
        };
        let (transport, describe) = match &settings.smtp_url {
            Some(url) => {
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
                    .pool_config(PoolConfig::new().max_size(settings.smtp_connections))
                    .timeout(Some(Duration::from_secs(30)));
                if settings.smtp_tls_insecure {
                    let u = url::Url::parse(url)?;
                    let host = u.host_str().unwrap_or_default().to_owned();
                    let params = TlsParameters::builder(host)
                        .dangerous_accept_invalid_certs(true)
                        .dangerous_accept_invalid_hostnames(true)
                        .build_rustls()?;
                    let tls = u
                        .query_pairs()
                        .find(|(k, _)| k == "tls")
                        .map(|(_, v)| v.into_owned());
                    b = b.tls(match (u.scheme(), tls.as_deref()) {
                        ("smtps", _) => Tls::Wrapper(params),
                        (_, Some("required")) => Tls::Required(params),
                        (_, Some("opportunistic")) => Tls::Opportunistic(params),
                        _ => Tls::None,
                    });
                }
                (
                    Transport::Smtp(b.build()),
                    format!("SMTP {}", crate::config::redact(url)),
                )
            }
            None => {
                std::fs::create_dir_all(&settings.mail_dir).map_err(|e| {
                    anyhow::anyhow!("mail_dir {}: {e}", settings.mail_dir.display())
                })?;
                (
                    Transport::Folder(AsyncFileTransport::new(&settings.mail_dir)),
                    format!("files in {}", settings.mail_dir.display()),
                )
            }
        };
        let dkim = match (
            &settings.dkim_key,
            &settings.dkim_selector,
            &settings.dkim_domain,
        ) {
            (Some(path), Some(selector), Some(domain)) => {
                let pem = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("dkim_key {}: {e}", path.display()))?;
                let key = if pem.contains("BEGIN RSA PRIVATE KEY") {
                    DkimSigningKey::new(&pem, DkimSigningAlgorithm::Rsa)
                } else {
                    DkimSigningKey::new(pem.trim(), DkimSigningAlgorithm::Ed25519)
                }
                .map_err(|e| {
                    anyhow::anyhow!(
                        "dkim_key {}: not a PKCS#1 RSA key in PEM nor a base64 Ed25519 key: {e}",
                        path.display()
                    )
                })?;
                let headers = [
                    "From",
                    "To",
                    "Subject",
                    "Date",
                    "Message-ID",
                    "List-Unsubscribe",
                    "List-Unsubscribe-Post",
                ]
                .into_iter()
                .map(HeaderName::new_from_ascii_str)
                .collect();
                Some(DkimConfig::new(
                    selector.clone(),
                    domain.clone(),
                    key,
                    headers,
                    DkimCanonicalization {
                        header: DkimCanonicalizationType::Relaxed,
                        body: DkimCanonicalizationType::Relaxed,
                    },
                ))
            }
            _ => None,
        };
        let rate = NonZeroU32::new(settings.smtp_rate).unwrap_or(NonZeroU32::MIN);
        let connection_limit = usize::try_from(settings.smtp_connections.max(1)).unwrap_or(1);
        Ok(Mailer {
            transport,
            from,
            limiter: RateLimiter::direct(Quota::per_second(rate)),
            rate: rate.get(),
            connections: tokio::sync::Semaphore::new(connection_limit),
            connection_limit,
            paused_until: Mutex::new(None),
            pause: Mutex::new(FIRST_PAUSE),
            dkim,
            describe,
        })
    }

    /// The host part of message ids.
    pub fn id_host(&self) -> String {
        self.from.email.domain().to_owned()
    }

    /// Builds the MIME message.
    pub fn message(&self, e: &Envelope<'_>) -> Result<Message, String> {
        let to: Mailbox =
            e.to.parse()
                .map_err(|err| format!("'{}' is not an address: {err}", e.to))?;
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(e.rendered.subject.clone())
            .message_id(Some(e.message_id.to_owned()))
            .date(SystemTime::now())
            .header(AutoSubmitted);
        if let Some(root) = e.thread.filter(|r| *r != e.message_id) {
            b = b.in_reply_to(root.to_owned()).references(root.to_owned());
        }
        if let Some(u) = e.unsubscribe {
            b = b
                .header(ListUnsubscribe(u.to_owned()))
                .header(ListUnsubscribePost);
        }
        let mut m = b
            .multipart(MultiPart::alternative_plain_html(
                e.rendered.text.clone(),
                e.rendered.html.clone(),
            ))
            .map_err(|err| err.to_string())?;
        if let Some(d) = &self.dkim {
            m.sign(d);
        }
        Ok(m)
    }

    async fn wait_for_pause(&self) {
        let until = self.paused_until.lock().ok().and_then(|p| *p);
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep(until - now).await;
            }
        }
    }

    fn slow_down(&self) {
        let pause = self
            .pause
            .lock()
            .map(|mut p| {
                let now = *p;
                *p = (*p * 2).min(LONGEST_PAUSE);
                now
            })
            .unwrap_or(FIRST_PAUSE);
        if let Ok(mut until) = self.paused_until.lock() {
            *until = Some(Instant::now() + pause);
        }
        tracing::warn!(
            pause_secs = pause.as_secs(),
            "the mail server asked to slow down; pausing"
        );
    }

    fn went_well(&self) {
        if let Ok(mut p) = self.pause.lock()
            && *p != FIRST_PAUSE
        {
            *p = FIRST_PAUSE;
        }
    }

    /// The pace limit, messages per second.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Connections to the SMTP server at most (`HERALD_SMTP_CONNECTIONS`).
    pub fn connections(&self) -> usize {
        self.connection_limit
    }

    /// Waits for the next message's turn: the pace limit, and a pause a server asked for.
    pub async fn pace(&self) {
        self.wait_for_pause().await;
        self.limiter.until_ready().await;
    }

    /// One SMTP transaction on one of the allowed connections.
    async fn send_smtp(
        &self,
        t: &AsyncSmtpTransport<Tokio1Executor>,
        message: Message,
    ) -> Result<
        Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error>,
        tokio::time::error::Elapsed,
    > {
        let _connection = self.connections.acquire().await;
        tokio::time::timeout(SEND_TIMEOUT, t.send(message)).await
    }

    /// Sends one message (its turn taken with [`Mailer::pace`]); says how it went.
    pub async fn send(&self, message: Message) -> Outcome {
        match &self.transport {
            Transport::Smtp(t) => match self.send_smtp(t, message).await {
                Err(_) => Outcome::Temporary("timed out talking to the mail server".into()),
                Ok(Ok(_)) => {
                    self.went_well();
                    Outcome::Delivered
                }
                Ok(Err(e)) => {
                    let text = e.to_string();
                    let code = e.status().map(|c| c.to_string());
                    let throttled = code.as_deref() == Some("421") || text.contains(" 4.7.");
                    if throttled {
                        self.slow_down();
                    }
                    if e.is_permanent() {
                        Outcome::Permanent(text)
                    } else {
                        Outcome::Temporary(text)
                    }
                }
            },
            Transport::Folder(t) => match t.send(message).await {
                Ok(_) => Outcome::Delivered,
                Err(e) => Outcome::Temporary(format!("writing the mail file: {e}")),
            },
        }
    }
}
