//! Prism: cloud research workstations on AWS without surprise bills.
//!
//! One binary, four layers. `model` holds pure types and rules; `aws` is the only code that
//! speaks to AWS; `daemon` owns state, background work and the REST API; `client` is the typed
//! HTTP client that the `cli` and the `tui` dashboard use to reach the daemon.

pub mod aws;
pub mod cli;
pub mod client;
pub mod daemon;
pub mod logging;
pub mod model;
pub mod paths;
pub mod token;
pub mod tui;
