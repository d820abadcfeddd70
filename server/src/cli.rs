//! The `herald` command line: serve, migrate, tokens and the page.

use std::{net::TcpListener, path::PathBuf};

use clap::{Parser, Subcommand};

use crate::{clock::Clock, config::Settings, domain::Role, server, store};

/// Herald: incident communication and status pages.
///
/// Settings come from built-in defaults, then the TOML file given with --config, then
/// HERALD_* environment variables, then command-line flags:
///
///   HERALD_BIND               address to listen on (default 127.0.0.1:8080)
///   HERALD_DATABASE_URL       sqlite://FILE?mode=rwc (default sqlite://herald.db?mode=rwc
///                             in the working directory) or postgres://USER@HOST/DB
///   HERALD_PUBLIC_URL         the page's public address, for absolute links
///                             (default http://<bind>)
///   HERALD_TEMPLATES_DIR      a folder of templates overriding the built-in ones
///   HERALD_LOG_FORMAT         pretty (default) or json
///   HERALD_POLL_INTERVAL_MS   how often to look for changes made by other instances
///                             sharing the database (default 500)
///   HERALD_WORKERS            HTTP worker threads (default: one per core)
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
    /// Run the server: applies migrations, prints an admin token on first start.
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
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Show the page.
    Page {
        #[command(subcommand)]
        command: PageCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it, alone, on stdout. It is shown only once.
    Create {
        /// viewer (read), responder (incidents and components) or admin (everything).
        #[arg(long, default_value = "admin")]
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

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let clock = Clock::system();
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(db) = cli.database_url {
        settings.database_url = db;
    }
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
            crate::telemetry::init(&settings.log_format);
            serve(settings, demo, clock).await
        }
        Command::Migrate => {
            store::migrate(&settings.database_url).await?;
            eprintln!("migrations applied");
            Ok(())
        }
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
            Ok(())
        }
        Command::Page {
            command: PageCommand::Show,
        } => {
            let st = open(&settings, &clock).await?;
            let page = store::pages::get(st.db(), st.page_id()).await?;
            println!(
                "id: {}\nname: {}\nurl: {}\ntime_zone: {}",
                page.id, page.name, page.url, page.time_zone
            );
            Ok(())
        }
    }
}

async fn open(settings: &Settings, clock: &Clock) -> anyhow::Result<store::Store> {
    Ok(store::Store::open(&settings.database_url, None, clock.now()).await?)
}

async fn serve(settings: Settings, demo: bool, clock: Clock) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&settings.bind)?;
    let addr = listener.local_addr()?;
    let running = server::launch(settings, listener, clock.clone()).await?;
    let store = running.state.store.clone();
    if demo && store::seed::demo(&store, clock.now()).await? {
        tracing::info!("seeded the demo page");
        let head = *store.head().borrow();
        running.state.shown(Some(head)).await;
    }
    if !store::tokens::has_admin(store.db()).await? {
        let mut w = store
            .begin(&store::Actor::system("first start"), clock.now())
            .await?;
        let (_, secret) = store::tokens::issue(&mut w, "initial admin", Role::Admin).await?;
        w.commit().await?;
        println!(
            "\nFirst start: an admin API token was created. It is shown only this once:\n\n    {}\n",
            secret.0
        );
        println!(
            "Try:  curl -H 'Authorization: OAuth {}' http://{addr}/v1/pages/{}/incidents\n",
            secret.0,
            store.page_id()
        );
    }
    let public_url = running.state.settings.public_url(addr);
    tracing::info!(%addr, %public_url, page_id = %store.page_id(), "Herald is serving; status page at {public_url}/");
    let handle = running.handle.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutting down");
            handle.stop(true).await;
        }
    });
    running.server.await?;
    Ok(())
}
