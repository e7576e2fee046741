//! pyro_async: an asynchronous Pyro4 (wire protocol 48) client with a C ABI.
//!
//! Layers, top to bottom (a layer never reaches up):
//! - [`ffi`]: the C ABI only (argument checks, panic containment, ownership).
//! - [`runtime`]: context, I/O thread, completion queue behind a pollable fd.
//! - [`client`]: connections and the call state machine.
//! - [`protocol`]: Pyro4 message framing. Pure: bytes in, messages out.
//! - [`serial`]: serializers (serpent, ...). Pure: bytes in, values out.
//! - [`value`]: the Python-like value model and its exact `repr()`.

pub mod client;
pub mod error;
pub mod ffi;
pub mod naming;
pub mod protocol;
pub mod runtime;
pub mod serial;
pub mod value;

pub use error::{Error, ErrorKind, RemoteError};
pub use value::Value;
