//! Turns records into what readers get: Statuspage JSON documents, HTML pages and feeds.

pub mod fragments;
#[cfg(test)]
mod fuzz;
pub mod ics;
pub mod markdown;
pub mod pages;
pub mod statuspage;
pub mod templates;
pub mod time;
pub mod uptime;
pub mod views;
