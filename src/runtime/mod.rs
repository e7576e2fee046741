//! Context, I/O thread, completion queue behind a pollable fd, timers.

mod completion;
mod context;
mod decode;
mod dispatch_reads;
mod env_log;
mod id_map;
mod reactor;
mod signal_fd;
pub mod stream;
mod threads;
mod workers;

pub use context::{
    CallId, CallKind, CallRequest, Callback, ConnState, Context, ContextOptions, LogCallback,
    LogLevel, Outcome, Patience, Proxy, ProxyId, Reply, StateCallback,
};
