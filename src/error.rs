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
    /// A bug in this library, caught at the C boundary.
    Internal = 10,
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
        let message = crate::client::remote_error::exception_str(&remote.type_name, &remote.args);
        Error {
            kind: ErrorKind::Remote,
            message,
            remote: Some(Box::new(remote)),
        }
    }
}

/// `repr(tuple(items))` for an error message: exact when small, else cut short like
/// [`repr_preview`].
pub(crate) fn tuple_repr_preview(items: &[Value]) -> String {
    let mut out = String::new();
    if repr_is_small_all(items) {
        out.push('(');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            item.repr_into(&mut out);
        }
        if items.len() == 1 {
            out.push(',');
        }
        out.push(')');
    } else {
        preview_seq(&mut out, "(", ")", items);
    }
    out
}

/// Values whose `repr()` goes into an error message in full; larger ones are cut.
pub(crate) const MESSAGE_REPR_LIMIT: usize = 4096;
/// Python refuses to print ints of more than 4300 digits; about as many bits as that.
const PRINTABLE_INT_BITS: u64 = 14_000;

/// `repr(v)` for an error message: exact when `v` is small, else cut after about
/// [`MESSAGE_REPR_LIMIT`] bytes (ending in "...") without writing the rest. A server's
/// values can be as large as a message, and an int's decimal form takes more than linear
/// time in its size (Python refuses it past 4300 digits; here it shows as `<int of N
/// bits>`).
pub(crate) fn repr_preview(v: &Value) -> String {
    if repr_is_small(v) {
        return v.repr();
    }
    let mut out = String::new();
    preview_into(v, &mut out);
    out
}

/// Whether `v` is within [`MESSAGE_REPR_LIMIT`], measured by a walk that stops there.
fn repr_is_small(v: &Value) -> bool {
    repr_is_small_all(std::slice::from_ref(v))
}

/// Whether `values` together are within [`MESSAGE_REPR_LIMIT`].
fn repr_is_small_all(values: &[Value]) -> bool {
    // Every value counts at least 8, so a container of more items than this is too large
    // before any is looked at (and the stack never holds a huge container's items).
    const MAX_ITEMS: usize = MESSAGE_REPR_LIMIT / 8;
    if values.len() > MAX_ITEMS {
        return false;
    }
    let mut size = 0usize;
    let mut stack: Vec<&Value> = values.iter().collect();
    while let Some(v) = stack.pop() {
        size += 8;
        match v {
            Value::Str(s) => size += s.len(),
            Value::Bytes(b) => size += b.len(),
            Value::BigInt(b) => size += (b.bits() / 3) as usize,
            Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
                if items.len() > MAX_ITEMS {
                    return false;
                }
                stack.extend(items.iter())
            }
            Value::Dict(items) => {
                if items.len() > MAX_ITEMS {
                    return false;
                }
                stack.extend(items.iter().flat_map(|(k, v)| [k, v]))
            }
            Value::Object(o) => {
                size += o.class.len();
                stack.push(&o.state);
            }
            _ => {}
        }
        if size > MESSAGE_REPR_LIMIT {
            return false;
        }
    }
    true
}

/// Appends `v`'s repr up to about [`MESSAGE_REPR_LIMIT`]; false once the limit is reached
/// (then "..." ends the text).
fn preview_into(v: &Value, out: &mut String) -> bool {
    let room = MESSAGE_REPR_LIMIT.saturating_sub(out.len());
    if room == 0 {
        out.push_str("...");
        return false;
    }
    // An escaped byte takes up to four characters.
    let take = room.div_ceil(4);
    match v {
        Value::Str(s) if s.len() > take => {
            let mut cut = take;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            crate::value::str_repr(&s[..cut], out);
            out.push_str("...");
            false
        }
        Value::Bytes(b) if b.len() > take => {
            Value::Bytes(b[..take].to_vec()).repr_into(out);
            out.push_str("...");
            false
        }
        Value::BigInt(b) if b.bits() > PRINTABLE_INT_BITS => {
            out.push_str(&format!("<int of {} bits>", b.bits()));
            true
        }
        Value::List(items) => preview_seq(out, "[", "]", items),
        Value::Tuple(items) => preview_seq(out, "(", ")", items),
        Value::Set(items) if !items.is_empty() => preview_seq(out, "{", "}", items),
        Value::Dict(items) => {
            out.push('{');
            preview_pairs(out, items, true)
        }
        Value::Object(o) => {
            out.push_str("{'__class__': ");
            crate::value::str_repr(&o.class, out);
            match &o.state {
                Value::Dict(items) => preview_pairs(out, items, false),
                other => {
                    out.push_str(", 'state': ");
                    preview_into(other, out) && close(out, "}")
                }
            }
        }
        // small scalars (and anything that fits the room)
        other => {
            other.repr_into(out);
            true
        }
    }
}

fn close(out: &mut String, s: &str) -> bool {
    out.push_str(s);
    true
}

fn preview_seq(out: &mut String, open: &str, close_with: &str, items: &[Value]) -> bool {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if !preview_into(item, out) {
            return false;
        }
    }
    if open == "(" && items.len() == 1 {
        out.push(',');
    }
    close(out, close_with)
}

/// Dict items after the opening brace (`first`: no item written yet).
fn preview_pairs(out: &mut String, items: &[(Value, Value)], first: bool) -> bool {
    for (i, (k, v)) in items.iter().enumerate() {
        if i > 0 || !first {
            out.push_str(", ");
        }
        if !preview_into(k, out) {
            return false;
        }
        out.push_str(": ");
        if !preview_into(v, out) {
            return false;
        }
    }
    close(out, "}")
}

pub type Result<T> = std::result::Result<T, Error>;
