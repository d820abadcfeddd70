//! Herald: a self-hosted incident communication and status-page server.
//!
//! `domain` decides (pure), `store` persists, `render` turns records into documents,
//! `public` serves the status page from a snapshot, `http` is the admin API.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod public;
pub mod render;
pub mod store;
pub mod telemetry;
