//! The one error type every layer returns; its kind maps 1:1 onto `pyro_error_kind`.

use crate::value::Value;

/// Error categories, numbered as in the C header (`pyro_error_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub enum ErrorKind {
    /// The remote Python code raised an exception.
    Remote = 1,
    /// Connecting, reading or writing failed, or the server refused the connection.
    Communication = 2,
    /// The call's deadline passed.
    Timeout = 3,
    /// A name could not be resolved through the name server.
    Naming = 4,
    /// The peer broke the Pyro4 wire protocol.
    Protocol = 5,
    /// A payload could not be encoded or decoded.
    Serialization = 6,
    /// HMAC, TLS or other security checks failed.
    Security = 7,
    /// The call was cancelled (explicitly, or by freeing its proxy or context).
    Cancelled = 8,
    /// The caller passed something unusable.
    InvalidArgument = 9,
}

/// The structured form of a Python exception raised on the server.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteError {
    /// Fully qualified class name, e.g. `builtins.ZeroDivisionError`.
    pub type_name: String,
    /// The exception's `args` tuple.
    pub args: Value,
    /// The remote traceback text (Pyro4's `_pyroTraceback`, joined), if the server sent one.
    pub traceback: Option<String>,
    /// Other attributes the server sent with the exception.
    pub attributes: Value,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub remote: Option<Box<RemoteError>>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            remote: None,
        }
    }
    pub fn communication(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Communication, message)
    }
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Serialization, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "call cancelled")
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }
    /// A remote exception; `message` is Python's `str()` of it.
    pub fn remote(remote: RemoteError) -> Self {
        let message = remote_str(&remote.args);
        Error {
            kind: ErrorKind::Remote,
            message,
            remote: Some(Box::new(remote)),
        }
    }
}

/// Python's `str(exc)`: '' for no args, `str(arg)` for one, `repr(args)` otherwise.
fn remote_str(args: &Value) -> String {
    match args {
        Value::Tuple(items) | Value::List(items) => match items.as_slice() {
            [] => String::new(),
            [Value::Str(s)] => s.clone(),
            [one] => one.repr(),
            _ => Value::Tuple(items.clone()).repr(),
        },
        other => other.repr(),
    }
}

pub type Result<T> = std::result::Result<T, Error>;
