//! Connections and calls: targets, handshake, invoke, reply interpretation.

pub mod blocking;
pub mod connection;
pub mod inbox;
pub mod outbox;
pub mod ready_set;
pub mod remote_error;
pub mod target;
pub mod tls;
pub mod wire;
