//! Herald: a self-hosted incident communication and status-page server.
//!
//! `domain` decides (pure), `store` persists, `render` turns records into documents,
//! `snapshot` keeps the public side rendered in memory, `public` serves it, `http` is
//! the admin API, `console` the responder console under `/admin`, `notify` delivers notifications; `app` holds the state they share and `server` starts them.

pub mod app;
pub mod bulk;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod public;
pub mod render;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod telemetry;
