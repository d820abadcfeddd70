//! Starting the server: production and tests run this same code. The listener is bound
//! by the caller, so tests use port 0. Signals are the caller's too (see `cli`), so a
//! stop always drains in-flight requests and closes the database.

use std::net::TcpListener;

use actix_web::{App, HttpServer, dev::ServerHandle, middleware::from_fn, web};

use crate::{
    app::AppState,
    clock::Clock,
    config::Settings,
    http, public,
    store::{
        Store,
        database::{self, Mode},
        pages::UrlAtStart,
    },
};

pub struct Running {
    pub handle: ServerHandle,
    pub server: actix_web::dev::Server,
    pub state: web::Data<AppState>,
}

/// Opens (creating or migrating as the settings allow) the database, says what it
/// holds, builds the state, starts the followers, and returns the server ready to be
/// awaited.
pub async fn launch(
    settings: Settings,
    listener: TcpListener,
    clock: Clock,
) -> anyhow::Result<Running> {
    crate::telemetry::crypto();
    let addr = listener.local_addr()?;
    let (db, target) = database::connect_with(
        &settings.database_url,
        Mode::Create,
        database::Durability::from_setting(&settings.sqlite_synchronous),
    )
    .await?;
    if settings.migrate {
        let applied = database::migrate(&db).await?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied migrations");
        }
    } else {
        let pending = database::pending(&db).await?;
        if !pending.is_empty() {
            anyhow::bail!(
                "the {} has {} pending migration(s) and `migrate` is off: run `herald migrate` with a role that may change the schema",
                target.description,
                pending.len()
            );
        }
    }
    database::optimize(&db).await;
    let public_url = settings
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned());
    let (store, url) = Store::open(
        db,
        public_url.as_deref(),
        &format!("http://{addr}"),
        clock.now(),
    )
    .await?;
    let held = store.summary().await?;
    match url {
        UrlAtStart::Changed { from } => {
            tracing::info!(%from, to = %held.url, "the page's public URL changed");
        }
        UrlAtStart::Kept => tracing::warn!(
            url = %held.url,
            "public_url is not set; keeping the page's stored address (set HERALD_PUBLIC_URL to change it)"
        ),
        UrlAtStart::Defaulted => tracing::warn!(
            url = %held.url,
            "public_url is not set; links in feeds and mail point at {} (set HERALD_PUBLIC_URL)",
            held.url
        ),
        UrlAtStart::Same | UrlAtStart::Created => {}
    }
    tracing::info!(database = %target.description, page = %held.page_name, url = %held.url, components = held.components, incidents = held.incidents, "opened the {}: page '{}' with {} components and {} incidents", target.description, held.page_name, held.components, held.incidents);
    let workers = settings
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let shutdown_timeout = settings.shutdown_timeout;
    let header_read_timeout = std::time::Duration::from_secs(settings.header_read_timeout);
    let proxies = settings.proxies()?;
    let state = web::Data::new(AppState::open(settings, store, clock).await?);
    let access = web::Data::new(http::access::Config {
        proxies,
        base: state.base.clone(),
    });
    state.follow().await;
    let api = web::Data::new(http::Api::new());
    let data = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(api.clone())
            .app_data(access.clone())
            .wrap(http::security::headers(&data.settings))
            .wrap(from_fn(http::strip_json_suffix))
            .wrap(from_fn(http::strip_base))
            .wrap(from_fn(http::access::log))
            .configure(http::configure)
            .configure(crate::console::configure)
            .configure(public::configure)
    })
    .workers(workers.max(1))
    .disable_signals()
    // A connection that does not finish its headers in time is answered 408 and closed.
    .client_request_timeout(header_read_timeout)
    .shutdown_timeout(shutdown_timeout)
    .listen(listener)?
    .run();
    Ok(Running {
        handle: server.handle(),
        server,
        state,
    })
}
