//! Plain types and pure rules: templates and their inheritance, sizes, money, prices, the cost
//! ledger and the cost reports built on it, workspace states and names, and the API's wire
//! types.
//!
//! Nothing here does I/O or reads the clock; callers pass the time in. That keeps every rule
//! testable with plain unit tests.

pub mod address;
pub mod api;
pub mod costs;
pub mod ledger;
pub mod money;
pub mod pricing;
pub mod size;
pub mod tags;
pub mod template;
pub mod userdata;
pub mod workspace;
