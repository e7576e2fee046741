//! C ABI: errors.

use crate::error::{Error, ErrorKind};
use crate::ffi::boundary::guard;
use crate::ffi::value::terminate_strings;
use crate::value::Value;
use std::ffi::{c_char, CString};

/// Error categories.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pyro_error_kind {
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
        }
    }
}

/// An error: kind, message and, for remote errors, the Python exception's class, args
/// and traceback. Handed to error callbacks (borrowed, valid during the callback) or
/// through `pyro_error **` out-parameters (caller owns; free with `pyro_error_free`).
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

/// The error's kind. 0 for NULL.
#[no_mangle]
pub extern "C" fn pyro_error_get_kind(e: *const pyro_error) -> pyro_error_kind {
    guard(pyro_error_kind::PYRO_ERR_INVALID_ARGUMENT, || {
        match unsafe { e.as_ref() } {
            Some(e) => e.kind,
            None => pyro_error_kind::PYRO_ERR_INVALID_ARGUMENT,
        }
    })
}

/// The message (borrowed; lives as long as the error). For PYRO_ERR_REMOTE it is Python's
/// `str()` of the exception. NULL for a NULL error.
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
