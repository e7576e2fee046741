//! Name server: discovery, lookup, PYRONAME/PYROMETA resolution.

pub mod discovery;
pub mod resolve;
