//! Connections and calls: targets, handshake, invoke, reply interpretation.

pub mod blocking;
pub mod connection;
pub mod outbox;
pub mod remote_error;
pub mod target;
pub mod tls;
pub mod wire;
