//! The one way into Rust from C: every exported body runs inside [`guard`] or
//! [`checked`], so a Rust panic becomes the function's documented failure value instead
//! of unwinding into C; and the argument checks every function shares, so that each
//! refusal leaves the same kind of reason in the thread's last error
//! (`pyro_last_error`).
//!
//! Everything an exported function does with its arguments, including taking ownership
//! of consumed values, happens inside the guard: nothing outside it can panic.

use crate::error::{Error, ErrorKind};
use crate::ffi::ctx::{pyro_ctx, pyro_proxy};
use crate::ffi::error::{pyro_error, set_out_error};
use crate::runtime::Proxy;
use crate::value::Value;
use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST_ERROR: RefCell<Option<Box<pyro_error>>> = const { RefCell::new(None) };
}

/// For functions that never refuse (frees, the error accessors): they leave the last
/// error alone, so the host can read and free things between a refusal and its reason.
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(_) => on_panic,
    }
}

/// For functions that can refuse: `body`'s error becomes the thread's last error and the
/// function returns `refused`; success clears the last error.
pub(crate) fn checked<T>(refused: T, body: impl FnOnce() -> Result<T, Error>) -> T {
    checked_out(refused, std::ptr::null_mut(), body)
}

/// [`checked`] for functions with a `pyro_error **` out-parameter: a refusal's error goes
/// to `*out` as well (the caller owns that copy).
pub(crate) fn checked_out<T>(
    refused: T,
    out: *mut *mut pyro_error,
    body: impl FnOnce() -> Result<T, Error>,
) -> T {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| Err(panic_error(p)));
    match result {
        Ok(v) => {
            set_last(None);
            v
        }
        Err(e) => {
            if !out.is_null() {
                set_out_error(out, e.clone());
            }
            set_last(Some(e));
            refused
        }
    }
}

fn panic_error(payload: Box<dyn Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic");
    Error::new(
        ErrorKind::Internal,
        format!("internal error in pyro_async (please report it): {what}"),
    )
}

fn set_last(e: Option<Error>) {
    // try_with: a host may call in from its own thread-local destructors, after this
    // one is gone; the reason is lost then, not the process.
    let _ = LAST_ERROR.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        match e {
            None if slot.is_none() => {}
            None => *slot = None,
            Some(e) => *slot = Some(Box::new(pyro_error::from_error(e))),
        }
    });
}

/// The thread's last error (borrowed; replaced or freed by the next checked call).
pub(crate) fn last_error() -> *const pyro_error {
    LAST_ERROR
        .try_with(|slot| {
            slot.borrow()
                .as_deref()
                .map_or(std::ptr::null(), |e| e as *const pyro_error)
        })
        .unwrap_or(std::ptr::null())
}

/// `p` as a reference, or "NAME is NULL".
pub(crate) fn arg<'a, T>(p: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: non-NULL pointers from the host point to a live object (C contract).
    unsafe { p.as_ref() }.ok_or_else(|| null(name))
}

/// `p` as a mutable reference, or "NAME is NULL".
pub(crate) fn arg_mut<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Error> {
    // SAFETY: as `arg`; the host does not share the object during the call.
    unsafe { p.as_mut() }.ok_or_else(|| null(name))
}

pub(crate) fn null(name: &str) -> Error {
    Error::invalid(format!("{name} is NULL"))
}

pub(crate) fn ctx_arg<'a>(ctx: *const pyro_ctx) -> Result<&'a pyro_ctx, Error> {
    arg(ctx, "ctx")
}

pub(crate) fn proxy_arg<'a>(p: *const pyro_proxy) -> Result<&'a Proxy, Error> {
    arg(p, "proxy").map(|p| &p.proxy)
}

/// Python's name for the type of `v`, for messages such as "v is a dict, not a str"
/// (None by its own name: "args is None, not a tuple").
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::None => "None",
        v => v.type_name(),
    }
}

/// "NAME is a KIND, not WANTED".
pub(crate) fn wrong_kind(name: &str, v: &Value, wanted: &str) -> Error {
    Error::invalid(format!("{name} is {}, not {wanted}", a(type_name(v))))
}

/// The type name with its article ("a dict", "an int", "None").
pub(crate) fn a(type_name: &str) -> String {
    match type_name {
        "None" => "None".into(),
        t if t.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {t}"),
        t => format!("a {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::error::{pyro_error_get_kind, pyro_error_kind, pyro_error_message};
    use std::ffi::CStr;

    fn last_message() -> String {
        let e = last_error();
        assert!(!e.is_null());
        unsafe { CStr::from_ptr(pyro_error_message(e)) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_is_a_refusal_with_an_internal_error() {
        let v: *mut u8 = checked(std::ptr::null_mut(), || panic!("the sky fell"));
        assert!(v.is_null());
        assert_eq!(
            pyro_error_get_kind(last_error()),
            pyro_error_kind::PYRO_ERR_INTERNAL
        );
        assert!(
            last_message().ends_with("the sky fell"),
            "{}",
            last_message()
        );
        let n: usize = checked(0, || panic!("{} and {}", "formatted", "owned"));
        assert_eq!(n, 0);
        assert!(last_message().ends_with("formatted and owned"));
        assert_eq!(checked(0, || Ok(7)), 7);
        assert!(last_error().is_null());
        // guard neither sets nor clears it
        let _: usize = checked(0, || Err(Error::invalid("kept")));
        assert_eq!(guard(1, || panic!("ignored")), 1);
        assert_eq!(last_message(), "kept");
    }
}
