//! Black-box tests of the admin API and the public side, against the real server.

mod access;
mod browser;
mod components;
mod console;
mod console_browser;
mod console_directory;
mod console_ledger;
mod console_maintenance;
mod console_people;
mod console_settings;
mod hardening;
mod hostile;
mod incidents;
mod maintenance;
mod notify;
mod ops;
mod promises;
mod protocol;
mod public;
mod record;
mod roles;
mod subscribe_browser;
mod templates;
mod webhooks;
