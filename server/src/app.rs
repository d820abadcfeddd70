//! Starting the server: production and tests run this same code. The listener is bound
//! by the caller, so tests use port 0.

use std::{net::TcpListener, sync::Arc};

use actix_web::{App, HttpServer, dev::ServerHandle, middleware::from_fn, web};

use crate::{config::Settings, http, public::Public, store::Store};

pub struct Running {
    pub handle: ServerHandle,
    pub server: actix_web::dev::Server,
    pub state: web::Data<http::AppState>,
}

/// Opens the store (applying migrations), builds the public snapshot, and returns the
/// server ready to be awaited.
pub async fn launch(settings: Settings, listener: TcpListener) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let public_url = settings.public_url(addr);
    let store = Store::open(&settings.database_url, Some(&public_url)).await?;
    let public = Arc::new(Public::new(&settings)?);
    let state = web::Data::new(http::AppState {
        store,
        ops: http::v1::table().into_ops(),
        settings: Arc::new(settings),
        public,
    });
    state.public.refresh(&state.store).await;
    state
        .public
        .watch(state.store.clone(), state.settings.poll_interval_ms);

    let data = state.clone();
    let workers = state
        .settings
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(from_fn(http::strip_json_suffix))
            .configure(http::configure)
    })
    .workers(workers.max(1))
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    Ok(Running {
        handle: server.handle(),
        server,
        state,
    })
}
