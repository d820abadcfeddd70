//! Black-box tests of the admin API and the public side, against the real server.

mod components;
mod incidents;
mod protocol;
