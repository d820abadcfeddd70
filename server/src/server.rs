//! Starting the server: production and tests run this same code. The listener is bound
//! by the caller, so tests use port 0.

use std::net::TcpListener;

use actix_web::{App, HttpServer, dev::ServerHandle, middleware::from_fn, web};

use crate::{app::AppState, clock::Clock, config::Settings, http, public};

pub struct Running {
    pub handle: ServerHandle,
    pub server: actix_web::dev::Server,
    pub state: web::Data<AppState>,
}

/// Opens the state, starts the followers, and returns the server ready to be awaited.
pub async fn launch(
    settings: Settings,
    listener: TcpListener,
    clock: Clock,
) -> anyhow::Result<Running> {
    let addr = listener.local_addr()?;
    let public_url = settings.public_url(addr);
    let workers = settings
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let state = web::Data::new(AppState::open(settings, &public_url, clock).await?);
    state.follow();
    let api = web::Data::new(http::Api::new());
    let data = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(api.clone())
            .wrap(from_fn(http::strip_json_suffix))
            .configure(http::configure)
            .configure(public::configure)
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
