//! C ABI: errors.

use crate::error::{Error, ErrorKind};
use crate::ffi::boundary::{guard, last_error};
use crate::ffi::value::terminate_strings;
use crate::value::Value;
use std::ffi::{c_char, c_int, CStr, CString};

/// Error categories. `pyro_error_kind_name` gives each one's name as text.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pyro_error_kind {
    /// No error: what `pyro_error_get_kind` returns for NULL (such as `pyro_last_error()`
    /// after a call that succeeded). No error has this kind.
    PYRO_ERR_NONE = 0,
    /// The remote Python code raised an exception (see the remote_* accessors).
    PYRO_ERR_REMOTE = 1,
    /// Connecting, reading or writing failed, or the server refused the connection.
    PYRO_ERR_COMMUNICATION = 2,
    /// The call's deadline passed.
    PYRO_ERR_TIMEOUT = 3,
    /// A name could not be resolved through the name server.
    PYRO_ERR_NAMING = 4,
    /// The peer broke the Pyro4 wire protocol.
    PYRO_ERR_PROTOCOL = 5,
    /// A payload could not be encoded or decoded.
    PYRO_ERR_SERIALIZATION = 6,
    /// HMAC, TLS or another security check failed.
    PYRO_ERR_SECURITY = 7,
    /// The call was cancelled (pyro_call_cancel, pyro_proxy_free or pyro_ctx_free).
    PYRO_ERR_CANCELLED = 8,
    /// An argument was unusable.
    PYRO_ERR_INVALID_ARGUMENT = 9,
    /// A bug in this library: it was caught at the boundary (the function refused), and
    /// the message says what failed. Please report it.
    PYRO_ERR_INTERNAL = 10,
}

impl From<ErrorKind> for pyro_error_kind {
    fn from(k: ErrorKind) -> Self {
        use pyro_error_kind::*;
        match k {
            ErrorKind::Remote => PYRO_ERR_REMOTE,
            ErrorKind::Communication => PYRO_ERR_COMMUNICATION,
            ErrorKind::Timeout => PYRO_ERR_TIMEOUT,
            ErrorKind::Naming => PYRO_ERR_NAMING,
            ErrorKind::Protocol => PYRO_ERR_PROTOCOL,
            ErrorKind::Serialization => PYRO_ERR_SERIALIZATION,
            ErrorKind::Security => PYRO_ERR_SECURITY,
            ErrorKind::Cancelled => PYRO_ERR_CANCELLED,
            ErrorKind::InvalidArgument => PYRO_ERR_INVALID_ARGUMENT,
            ErrorKind::Internal => PYRO_ERR_INTERNAL,
        }
    }
}

/// An error: kind, message and, for remote errors, the Python exception's class, args
/// and traceback. Handed to error callbacks (borrowed, valid during the callback), by
/// `pyro_last_error` (borrowed), or through `pyro_error **` out-parameters (caller owns;
/// free with `pyro_error_free`).
pub struct pyro_error {
    kind: pyro_error_kind,
    message: CString,
    remote_type: Option<CString>,
    traceback: Option<CString>,
    args: Option<Value>,
}

fn c_string(s: &str) -> CString {
    // Interior NULs cannot cross as C strings; show them visibly instead of truncating.
    CString::new(s.replace('\0', "\\x00")).expect("NULs replaced")
}

impl pyro_error {
    pub(crate) fn from_error(e: Error) -> pyro_error {
        let remote = e.remote.map(|r| *r);
        pyro_error {
            kind: e.kind.into(),
            message: c_string(&e.message),
            remote_type: remote.as_ref().map(|r| c_string(&r.type_name)),
            traceback: remote
                .as_ref()
                .and_then(|r| r.traceback.as_deref())
                .map(c_string),
            args: remote.map(|r| {
                let mut a = r.args;
                terminate_strings(&mut a);
                a
            }),
        }
    }
}

/// Store `e` in `*out` (caller owns it then) if `out` is not NULL.
pub(crate) fn set_out_error(out: *mut *mut pyro_error, e: Error) {
    if !out.is_null() {
        // SAFETY: the caller passed a writable `pyro_error **`.
        unsafe { *out = Box::into_raw(Box::new(pyro_error::from_error(e))) };
    }
}

/// Why the last refused call on this thread was refused; NULL if it succeeded.
///
/// Every function that can refuse sets it when it refuses and clears it (NULL) when it
/// succeeds: those that return a call id (0 = refused), a pointer (NULL), a bool
/// (false), `pyro_ctx_fd` (-1), and those whose 0 may also be a refusal
/// (`pyro_ctx_dispatch`, `pyro_ctx_pending`, `pyro_value_len`, `pyro_value_depth`;
/// `pyro_value_get_kind` for NULL). So after such a call it tells why that call refused,
/// or is NULL. The error message names the argument and the reason: a NULL pointer, a
/// value of the wrong kind, a closed context, an invalid option field, an index out of
/// range, a key not in the dict, and so on. Its kind is PYRO_ERR_INVALID_ARGUMENT for
/// unusable arguments, or the kind of what failed (PYRO_ERR_SERIALIZATION for bad
/// literal text, PYRO_ERR_SECURITY for unreadable TLS files, ...). A function with a
/// `pyro_error **` out-parameter stores the same error there too.
///
/// These never set or clear it, so that it can be read and things freed in between:
/// the `pyro_*_free` functions, `pyro_version`, `pyro_last_error`, `pyro_error_kind_name`
/// and the `pyro_error_*` accessors. Calls made inside callbacks set it as usual;
/// `pyro_ctx_dispatch` sets its own outcome last.
///
/// Borrowed: do not free it. It stays valid until a function that sets or clears it is
/// next called on this thread. Each thread has its own.
#[no_mangle]
pub extern "C" fn pyro_last_error() -> *const pyro_error {
    guard(std::ptr::null(), last_error)
}

/// The name of an error kind as it is written in this header, e.g. "PYRO_ERR_TIMEOUT"
/// for PYRO_ERR_TIMEOUT and "PYRO_ERR_NONE" for 0 (a static string; do not free).
/// Any other value gives "(unknown error kind)": never NULL.
#[no_mangle]
pub extern "C" fn pyro_error_kind_name(kind: c_int) -> *const c_char {
    guard(UNKNOWN_KIND.as_ptr(), || kind_name(kind).as_ptr())
}

const UNKNOWN_KIND: &CStr = c"(unknown error kind)";

fn kind_name(kind: c_int) -> &'static CStr {
    match kind {
        0 => c"PYRO_ERR_NONE",
        1 => c"PYRO_ERR_REMOTE",
        2 => c"PYRO_ERR_COMMUNICATION",
        3 => c"PYRO_ERR_TIMEOUT",
        4 => c"PYRO_ERR_NAMING",
        5 => c"PYRO_ERR_PROTOCOL",
        6 => c"PYRO_ERR_SERIALIZATION",
        7 => c"PYRO_ERR_SECURITY",
        8 => c"PYRO_ERR_CANCELLED",
        9 => c"PYRO_ERR_INVALID_ARGUMENT",
        10 => c"PYRO_ERR_INTERNAL",
        _ => UNKNOWN_KIND,
    }
}

/// The error's kind; PYRO_ERR_NONE (0) for NULL.
#[no_mangle]
pub extern "C" fn pyro_error_get_kind(e: *const pyro_error) -> pyro_error_kind {
    guard(pyro_error_kind::PYRO_ERR_NONE, || {
        match unsafe { e.as_ref() } {
            Some(e) => e.kind,
            None => pyro_error_kind::PYRO_ERR_NONE,
        }
    })
}

/// The message (borrowed; lives as long as the error). For PYRO_ERR_REMOTE it is Python's
/// `str()` of the exception, made from its class and args by CPython's rules
/// (`BaseException.__str__` and the builtins that override it: KeyError's repr of the
/// key, OSError's "[Errno 2] No such file or directory: 'x'", the Unicode errors,
/// SyntaxError's "(file.py, line 1)", ...). NULL for a NULL error.
#[no_mangle]
pub extern "C" fn pyro_error_message(e: *const pyro_error) -> *const c_char {
    guard(std::ptr::null(), || {
        unsafe { e.as_ref() }.map_or(std::ptr::null(), |e| e.message.as_ptr())
    })
}

/// The remote exception's class, e.g. "builtins.ZeroDivisionError" (borrowed). NULL
/// unless the kind is PYRO_ERR_REMOTE.
#[no_mangle]
pub extern "C" fn pyro_error_remote_type(e: *const pyro_error) -> *const c_char {
    guard(std::ptr::null(), || {
        unsafe { e.as_ref() }
            .and_then(|e| e.remote_type.as_ref())
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// The remote traceback text as Pyro4 formats it (borrowed), or NULL.
#[no_mangle]
pub extern "C" fn pyro_error_remote_traceback(e: *const pyro_error) -> *const c_char {
    guard(std::ptr::null(), || {
        unsafe { e.as_ref() }
            .and_then(|e| e.traceback.as_ref())
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// The remote exception's args tuple (borrowed), or NULL unless PYRO_ERR_REMOTE.
#[no_mangle]
pub extern "C" fn pyro_error_remote_args(e: *const pyro_error) -> *const Value {
    guard(std::ptr::null(), || {
        unsafe { e.as_ref() }
            .and_then(|e| e.args.as_ref())
            .map_or(std::ptr::null(), |v| v as *const Value)
    })
}

/// Free an error received through a `pyro_error **` out-parameter. NULL is ignored.
/// Never free the `const pyro_error *` given to a callback.
#[no_mangle]
pub extern "C" fn pyro_error_free(e: *mut pyro_error) {
    guard((), || {
        if !e.is_null() {
            drop(unsafe { Box::from_raw(e) });
        }
    })
}
