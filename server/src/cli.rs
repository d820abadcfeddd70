//! The `herald` command line: serve, migrate, tokens, the page, backups and moves.

use std::{
    io::IsTerminal,
    net::TcpListener,
    path::{Path, PathBuf},
};

use clap::{Parser, Subcommand};

use crate::{
    clock::Clock,
    config::Settings,
    domain::Role,
    server,
    store::{
        self, Store,
        database::{self, Mode},
        export,
    },
};

/// Herald: incident communication and status pages.
///
/// Settings come from built-in defaults, then the TOML file given with --config, then
/// HERALD_* environment variables, then command-line flags. A setting Herald does not
/// know is an error. Secrets can be read from a file: HERALD_DATABASE_URL_FILE.
///
///   HERALD_BIND               address to listen on (default 127.0.0.1:8080)
///   HERALD_DATABASE_URL       sqlite://FILE?mode=rwc (default sqlite://herald.db?mode=rwc
///                             in the working directory) or postgres://USER@HOST/DB
///                             (?sslmode=require|verify-ca|verify-full&sslrootcert=FILE)
///   HERALD_DATABASE_URL_FILE  a file holding the database URL
///   HERALD_PUBLIC_URL         the page's public address, for absolute links; its path
///                             (https://example.com/status/) is where every route lives.
///                             Unset: the address stored with the page is kept
///   HERALD_TEMPLATES_DIR      a folder of templates overriding the built-in ones
///   HERALD_LOG                what to log, as RUST_LOG directives (default info;
///                             herald::access=debug logs every public request too);
///                             RUST_LOG wins when set
///   HERALD_LOG_FORMAT         pretty (default) or json
///   HERALD_POLL_INTERVAL_MS   how often to look for changes made by other instances
///                             sharing the database (default 500)
///   HERALD_WORKERS            HTTP worker threads (default: one per core)
///   HERALD_MIGRATE            apply migrations when serve starts (default true)
///   HERALD_SHUTDOWN_TIMEOUT   seconds in-flight requests get after SIGTERM/SIGINT
///                             (default 10)
///   HERALD_HEADER_READ_TIMEOUT seconds a client has to send a request's headers
///                             (default 10; then 408 and the connection is closed)
///   HERALD_BODY_READ_TIMEOUT  seconds a client has to send an admin request's body
///                             (default 30; then 408)
///   HERALD_AUTH_FAILURE_LIMIT wrong API keys one client may present a minute before
///                             it waits (429; default 20; 0 turns it off)
///   HERALD_TRUSTED_PROXIES    comma-separated addresses or CIDRs of reverse proxies
///                             whose X-Forwarded-For / Forwarded name the client
///   HERALD_SQLITE_SYNCHRONOUS full (default: a write survives power loss) or normal
///                             (it survives a crash, not power loss; faster writes)
///   HERALD_IMAGE_HOSTS        comma-separated origins images in updates may load from,
///                             beside the page's own (default: none)
///   HERALD_HSTS_MAX_AGE       seconds of Strict-Transport-Security to send (default 0:
///                             none); set it when the page is served over https only
#[derive(Debug, Parser)]
#[command(name = "herald", version, about, long_about, verbatim_doc_comment)]
pub struct Cli {
    /// A TOML file with settings (keys as above, lowercase, without HERALD_).
    #[arg(long, global = true, env = "HERALD_CONFIG")]
    pub config: Option<PathBuf>,
    /// The database to use, overriding the settings.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: creates and migrates the database if need be, and writes an
    /// admin token on first start (to the terminal, or to a 0600 file beside the
    /// database when there is no terminal).
    Serve {
        /// Address to listen on, overriding the settings.
        #[arg(long)]
        bind: Option<String>,
        /// The page's public URL, overriding the settings.
        #[arg(long)]
        public_url: Option<String>,
        /// Seed a demo page (pods, services, incidents) into an empty database.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        /// List applied and pending migrations instead; changes nothing.
        #[arg(long)]
        status: bool,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Console users: people who sign in at /admin.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Show the page.
    Page {
        #[command(subcommand)]
        command: PageCommand,
    },
    /// Copy a SQLite database to FILE while Herald runs (consistent, online).
    Backup {
        /// The new file to write.
        file: PathBuf,
    },
    /// Write the whole page (components, incidents, history, tokens, logs) as one JSON
    /// document, to FILE or standard output.
    Export {
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Subscribers: import a CSV or JSON file of people subscribed elsewhere.
    Subscribers {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Tenants (customer organisations): import a CSV or JSON file.
    Tenants {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Read a document written by `herald export` into an empty database (created and
    /// migrated if need be): the way from SQLite to PostgreSQL.
    Import {
        /// The export document.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it, alone, on stdout. It is shown only once.
    Create {
        /// viewer (read; the default), responder (incidents and components) or admin.
        #[arg(long, default_value = "viewer")]
        role: Role,
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id or prefix.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print a one-time sign-in link, alone, on stdout: opened within
    /// 24 hours, it lets the person choose a password and signs them in.
    Create {
        /// The person's email address (their sign-in name).
        #[arg(long)]
        email: String,
        /// viewer (reads), responder (incidents and components) or admin.
        #[arg(long)]
        role: Role,
        /// How the console and the audit log name them (default: the address).
        #[arg(long)]
        name: Option<String>,
    },
    /// Print a new one-time sign-in link for an existing user (a forgotten password).
    Link {
        #[arg(long)]
        email: String,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import FILE (CSV with a header row, or JSON). Subscribers: columns `email` and
    /// `components`; tenants: `name`, `emails`, `webhooks`, `components`, `groups`.
    /// Lists in a cell are separated by `;`; components by id or name. Imported
    /// subscribers are active at once and are sent nothing; existing addresses and
    /// tenant names are skipped. Nothing is written if any row is wrong.
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum PageCommand {
    /// Print the page's id, name, URL and time zone.
    Show,
}

impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        Role::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// The binary's entry point.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    crate::telemetry::crypto();
    // Rendering and compression run on the blocking pool: a few threads are enough,
    // and each thread the allocator serves holds memory of its own.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("herald: could not start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let clock = Clock::system();
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(db) = cli.database_url {
        settings.database_url = db;
    }
    settings.check()?;
    crate::telemetry::init(&settings.log_format, &settings.log);
    match cli.command {
        Command::Serve {
            bind,
            public_url,
            demo,
        } => {
            if let Some(b) = bind {
                settings.bind = b;
            }
            if let Some(u) = public_url {
                settings.public_url = Some(u);
            }
            settings.check()?;
            serve(settings, demo, clock).await
        }
        Command::Migrate { status } => migrate(&settings, status).await,
        Command::Token { command } => {
            let st = open(&settings, &clock).await?;
            match command {
                TokenCommand::Create { role, name } => {
                    let mut w = st.begin(&store::Actor::system("cli"), clock.now()).await?;
                    let (_, secret) = store::tokens::issue(&mut w, &name, role).await?;
                    w.commit().await?;
                    println!("{}", secret.0);
                }
                TokenCommand::List => {
                    for t in store::tokens::list(st.db()).await? {
                        let state = if t.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!("{}\t{}\t{}\t{}\t{}", t.id, t.prefix, t.role, state, t.name);
                    }
                }
                TokenCommand::Revoke { id } => {
                    let mut w = st.begin(&store::Actor::system("cli"), clock.now()).await?;
                    let t = store::tokens::withdraw(&mut w, &id).await?;
                    w.commit().await?;
                    eprintln!("revoked {} ({})", t.id, t.name);
                }
            }
            st.close().await;
            Ok(())
        }
        Command::User { command } => {
            let public_url = settings.public_url.clone();
            let st = open(&settings, &clock).await?;
            let result = user(&st, &clock, public_url.as_deref(), command).await;
            st.close().await;
            result
        }
        Command::Page {
            command: PageCommand::Show,
        } => {
            let st = open(&settings, &clock).await?;
            let page = store::pages::get(st.db(), st.page_id()).await?;
            println!(
                "id: {}\nname: {}\nurl: {}\ntime_zone: {}\nsubdomain: {}",
                page.id,
                page.name,
                page.url,
                page.time_zone,
                page.subdomain()
            );
            st.close().await;
            Ok(())
        }
        Command::Subscribers {
            command: ImportCommand::Import { file },
        } => import(&settings, &clock, &file, Kind::Subscribers).await,
        Command::Tenants {
            command: ImportCommand::Import { file },
        } => import(&settings, &clock, &file, Kind::Tenants).await,
        Command::Backup { file } => {
            let (db, target) = database::connect(&settings.database_url, Mode::Existing).await?;
            database::backup(&db, &target, &file).await?;
            database::close(&db).await;
            eprintln!("backed up the {} to {}", target.description, file.display());
            Ok(())
        }
        Command::Export { output } => {
            let (db, target) = database::connect(&settings.database_url, Mode::Existing).await?;
            let doc = export::export(&db, clock.now()).await?;
            database::close(&db).await;
            let json = serde_json::to_vec_pretty(&doc)?;
            match output {
                Some(path) => {
                    database::create_private_file(&path)?;
                    std::fs::write(&path, json)?;
                    eprintln!("exported the {} to {}", target.description, path.display());
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&json)?;
                }
            }
            Ok(())
        }
        Command::Import { file } => {
            let text = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let doc: export::Document = serde_json::from_slice(&text)
                .map_err(|e| anyhow::anyhow!("{} is not a Herald export: {e}", file.display()))?;
            let (db, target) = export::open_for_import(&settings.database_url).await?;
            let result = export::import(&db, doc).await;
            database::close(&db).await;
            result?;
            eprintln!(
                "imported {} into the {}",
                file.display(),
                target.description
            );
            Ok(())
        }
    }
}

async fn user(
    st: &Store,
    clock: &Clock,
    public_url: Option<&str>,
    command: UserCommand,
) -> anyhow::Result<()> {
    use crate::domain::user::Purpose;
    let url = match public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => store::pages::get(st.db(), st.page_id())
            .await?
            .url
            .trim_end_matches('/')
            .to_owned(),
    };
    match command {
        UserCommand::Create { email, role, name } => {
            let mut w = st.begin(&store::Actor::system("cli"), clock.now()).await?;
            let (u, token) =
                store::users::create_with_link(&mut w, store::users::NewUser { email, name, role })
                    .await?;
            w.commit().await?;
            eprintln!(
                "created {} ({}); the link below works once, for 24 hours:",
                u.email, u.role
            );
            println!("{url}/admin/welcome?token={}", token.0);
        }
        UserCommand::Link { email } => {
            let Some(u) = store::users::find_by_email(st.db(), st.page_id(), &email).await? else {
                anyhow::bail!("no user has the address {email}");
            };
            if u.disabled_at.is_some() {
                anyhow::bail!("{email} is disabled; enable them first");
            }
            let token =
                store::users::issue_link(st.db(), &u.id, Purpose::Reset, clock.now()).await?;
            eprintln!("the link below works once, for 24 hours:");
            println!("{url}/admin/welcome?token={}", token.0);
        }
        UserCommand::List => {
            for u in store::users::list(st.db(), st.page_id()).await? {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else if u.has_password {
                    "active"
                } else {
                    "invited"
                };
                println!("{}\t{}\t{}\t{}\t{}", u.id, u.email, u.role, state, u.name);
            }
        }
    }
    Ok(())
}

use crate::bulk::Kind;

async fn import(
    settings: &Settings,
    clock: &Clock,
    file: &std::path::Path,
    kind: Kind,
) -> anyhow::Result<()> {
    use crate::bulk::{Format, Names};
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
    let format = Format::of(file, &bytes);
    let st = open(settings, clock).await?;
    let components = store::components::list(st.db(), st.page_id()).await?;
    let names = Names::new(&components);
    let actor = store::Actor::system("cli");
    let mut w = st.begin(&actor, clock.now()).await?;
    let allow = crate::domain::webhook::parse_allow(&settings.webhook_allow)
        .map_err(|e| anyhow::anyhow!(e))?;
    let result = crate::bulk::import(&mut w, kind, &bytes, format, &names, &allow).await?;
    if result.as_ref().is_ok_and(|out| out.errors.is_empty()) {
        w.commit().await?;
    } else {
        drop(w);
    }
    st.close().await;
    let what = match kind {
        Kind::Subscribers => "subscribers",
        Kind::Tenants => "tenants",
    };
    let errors = match result {
        Ok(out) if out.errors.is_empty() => {
            println!(
                "imported {} {what}, skipped {} already there",
                out.created, out.skipped
            );
            return Ok(());
        }
        Ok(out) => out.errors,
        Err(errors) => errors,
    };
    for e in errors.iter().take(50) {
        eprintln!("{}: {e}", file.display());
    }
    if errors.len() > 50 {
        eprintln!("... and {} more", errors.len() - 50);
    }
    anyhow::bail!("nothing was imported: {} rows are wrong", errors.len())
}

async fn migrate(settings: &Settings, status: bool) -> anyhow::Result<()> {
    let mode = if status { Mode::Inspect } else { Mode::Create };
    let (db, target) = database::connect(&settings.database_url, mode).await?;
    if status {
        println!("{}", target.description);
        for (name, applied) in database::status(&db).await? {
            println!("{}\t{name}", if applied { "applied" } else { "pending" });
        }
    } else {
        let applied = database::migrate(&db).await?;
        eprintln!(
            "{} migration(s) applied to the {}",
            applied.len(),
            target.description
        );
    }
    database::close(&db).await;
    Ok(())
}

/// Opens an existing, migrated database and its page (every command but `serve`,
/// `migrate` and `import`).
async fn open(settings: &Settings, clock: &Clock) -> anyhow::Result<Store> {
    let (db, _) = database::connect(&settings.database_url, Mode::Existing).await?;
    let (store, _) = Store::open(db, None, "http://127.0.0.1:8080", clock.now()).await?;
    Ok(store)
}

/// Where the first admin token goes when there is no terminal: beside a SQLite
/// database, else in the working directory.
fn token_file(settings: &Settings) -> PathBuf {
    let dir = database::Target::of(&settings.database_url)
        .file
        .and_then(|f| f.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    dir.join("herald-admin-token")
}

async fn serve(settings: Settings, demo: bool, clock: Clock) -> anyhow::Result<()> {
    let signals = Signals::listen()?;
    let listener = TcpListener::bind(&settings.bind)
        .map_err(|e| anyhow::anyhow!("could not listen on {}: {e}", settings.bind))?;
    let addr = listener.local_addr()?;
    let token_path = token_file(&settings);
    let running = server::launch(settings, listener, clock.clone()).await?;
    let store = running.state.store.clone();
    if demo && store::seed::demo(&store, clock.now()).await? {
        tracing::info!("seeded the demo page");
        let head = *store.head().borrow();
        running.state.shown(Some(head)).await;
    }
    // Checked inside the write, which holds the page's lock: instances starting
    // together create one first token.
    let mut w = store
        .begin(&store::Actor::system("first start"), clock.now())
        .await?;
    let first = if store::tokens::has_admin(w.conn()).await? {
        None
    } else {
        Some(
            store::tokens::issue(&mut w, "initial admin", Role::Admin)
                .await?
                .1,
        )
    };
    w.commit().await?;
    if let Some(secret) = first {
        let base = &running.state.base;
        if std::io::stdout().is_terminal() {
            println!(
                "\nFirst start: an admin API token was created. It is shown only this once:\n\n    {}\n",
                secret.0
            );
            println!(
                "Try:  curl -H 'Authorization: OAuth {}' http://{addr}{base}/v1/pages/{}/incidents\n",
                secret.0,
                store.page_id()
            );
        } else {
            // Not on a terminal (a service manager, a container): standard output goes
            // to a journal, so the secret goes to a file only its owner can read.
            let _ = std::fs::remove_file(&token_path);
            database::create_private_file(&token_path)?;
            std::fs::write(&token_path, format!("{}\n", secret.0))?;
            tracing::warn!(path = %token_path.display(), "first start: the admin API token was written to {}; read it, then delete the file", token_path.display());
        }
    }
    let page = store::pages::get(store.db(), store.page_id()).await?;
    tracing::info!(%addr, url = %page.url, page_id = %store.page_id(), "Herald is serving; status page at {}/", page.url);
    let stopping = tokio::spawn(signals.handle(running.state.clone(), running.handle.clone()));
    running.server.await?;
    stopping.abort();
    running.state.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM and SIGINT drain: readiness fails, new connections are refused, requests in
/// flight finish (up to the shutdown timeout); a second signal stops at once. SIGHUP is
/// logged and otherwise ignored (settings are read at start only).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Takes the signals over before anything else starts.
    fn listen() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
                _ = self.hup.recv() => "SIGHUP",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }

    async fn handle(
        mut self,
        state: actix_web::web::Data<crate::app::AppState>,
        handle: actix_web::dev::ServerHandle,
    ) {
        let mut draining = false;
        loop {
            match self.next().await {
                "SIGHUP" => tracing::info!(
                    "SIGHUP received: Herald reads its settings at start only; restart it to apply changes"
                ),
                signal if draining => {
                    tracing::warn!(signal, "second signal: stopping now");
                    handle.stop(false).await;
                    return;
                }
                signal => {
                    draining = true;
                    state.start_draining();
                    tracing::info!(
                        signal,
                        timeout_s = state.settings.shutdown_timeout,
                        "draining: finishing requests in flight, then stopping"
                    );
                    let handle = handle.clone();
                    tokio::spawn(async move { handle.stop(true).await });
                }
            }
        }
    }
}
