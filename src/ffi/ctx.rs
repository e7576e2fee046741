//! C ABI: context, proxies, asynchronous calls.

use crate::error::{Error, ErrorKind};
use crate::ffi::boundary::guard;
use crate::ffi::error::{pyro_error, set_out_error};

use crate::runtime::{CallRequest, Context, ContextOptions, Outcome, Proxy};
use crate::serial::SerializerId;
use crate::value::Value;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::time::Duration;

/// A client context: one internal I/O thread and one completion fd. Create with
/// `pyro_ctx_new`, free with `pyro_ctx_free`.
pub struct pyro_ctx {
    ctx: Context,
}

/// A proxy for one remote object. Create with `pyro_proxy_new`, free with `pyro_proxy_free`.
pub struct pyro_proxy {
    proxy: Proxy,
}

/// Identifies an accepted call; 0 means "not accepted".
pub type pyro_call_id = u64;

/// Called with the call's result. `result` is borrowed: valid during the callback only
/// (copy it with `pyro_value_clone` to keep it).
pub type pyro_result_cb =
    Option<unsafe extern "C" fn(result: *const Value, user_data: *mut c_void)>;

/// Called with the call's error. `error` is borrowed: valid during the callback only.
pub type pyro_error_cb =
    Option<unsafe extern "C" fn(error: *const pyro_error, user_data: *mut c_void)>;

/// Serializer ids, as on the Pyro4 wire.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pyro_serializer {
    PYRO_SERIALIZER_SERPENT = 1,
    PYRO_SERIALIZER_JSON = 2,
    PYRO_SERIALIZER_MARSHAL = 3,
    PYRO_SERIALIZER_PICKLE = 4,
}

/// Context options. Always initialise with `pyro_ctx_options_init` first and then set
/// the fields you care about: fields are only ever added at the end.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pyro_ctx_options {
    /// Serializer for new proxies. Default: serpent, or `PYRO_SERIALIZER` from the environment.
    pub serializer: pyro_serializer,
    /// Largest message accepted from a server, in bytes. Default 64 MiB.
    pub max_message_size: u64,
    /// Connect (TCP + handshake) timeout in milliseconds; 0 = none. Default 10000.
    pub connect_timeout_ms: u32,
    /// Threads for blocking work such as host-name resolution; 1..16. Default 2.
    /// The library's total thread count is this plus one I/O thread.
    pub worker_threads: u32,
}

fn serializer_to_c(s: SerializerId) -> pyro_serializer {
    match s {
        SerializerId::Serpent => pyro_serializer::PYRO_SERIALIZER_SERPENT,
        SerializerId::Json => pyro_serializer::PYRO_SERIALIZER_JSON,
        SerializerId::Marshal => pyro_serializer::PYRO_SERIALIZER_MARSHAL,
        SerializerId::Pickle => pyro_serializer::PYRO_SERIALIZER_PICKLE,
    }
}

fn serializer_from_c(s: u32) -> Option<SerializerId> {
    SerializerId::from_u16(u16::try_from(s).ok()?)
}

/// Fill `options` with the defaults (environment variables included). NULL is ignored.
#[no_mangle]
pub extern "C" fn pyro_ctx_options_init(options: *mut pyro_ctx_options) {
    guard((), || {
        if options.is_null() {
            return;
        }
        let d = ContextOptions::from_env();
        let c = pyro_ctx_options {
            serializer: serializer_to_c(d.serializer),
            max_message_size: d.max_message_size as u64,
            connect_timeout_ms: d.connect_timeout.as_millis().min(u32::MAX as u128) as u32,
            worker_threads: d.worker_threads as u32,
        };
        // SAFETY: checked non-NULL; the caller provides a writable options struct.
        unsafe { options.write(c) };
    })
}

/// Create a context. `options` may be NULL for the defaults; it is only read during the
/// call. Returns NULL if the options are invalid or the system is out of resources.
/// Caller owns the result; free with `pyro_ctx_free`.
#[no_mangle]
pub extern "C" fn pyro_ctx_new(options: *const pyro_ctx_options) -> *mut pyro_ctx {
    guard(std::ptr::null_mut(), || {
        let mut opts = ContextOptions::from_env();
        if !options.is_null() {
            // SAFETY: checked non-NULL; read by value (the enum field is checked below).
            let raw = unsafe { std::ptr::read(options as *const RawOptions) };
            let Some(ser) = serializer_from_c(raw.serializer) else {
                return std::ptr::null_mut();
            };
            if raw.worker_threads == 0 || raw.worker_threads > 16 || raw.max_message_size < 1024 {
                return std::ptr::null_mut();
            }
            opts.serializer = ser;
            opts.max_message_size = usize::try_from(raw.max_message_size).unwrap_or(usize::MAX);
            opts.connect_timeout = Duration::from_millis(raw.connect_timeout_ms as u64);
            opts.worker_threads = raw.worker_threads as usize;
        }
        match Context::new(opts) {
            Ok(ctx) => Box::into_raw(Box::new(pyro_ctx { ctx })),
            Err(_) => std::ptr::null_mut(),
        }
    })
}

/// `pyro_ctx_options` as raw integers, so an out-of-range enum from C is caught, not UB.
#[repr(C)]
struct RawOptions {
    serializer: u32,
    max_message_size: u64,
    connect_timeout_ms: u32,
    worker_threads: u32,
}

/// The fd to watch for readability (borrowed: owned by the context, do not close it).
/// It is readable while completions are pending; call `pyro_ctx_dispatch` then.
/// Returns -1 for a NULL context.
#[no_mangle]
pub extern "C" fn pyro_ctx_fd(ctx: *const pyro_ctx) -> c_int {
    guard(-1, || match unsafe { ctx.as_ref() } {
        Some(c) => c.ctx.fd(),
        None => -1,
    })
}

/// Run up to `max` pending callbacks (0 = all pending) on the calling thread; returns
/// how many ran. If it stops at `max`, the fd stays readable. 0 for a NULL context.
#[no_mangle]
pub extern "C" fn pyro_ctx_dispatch(ctx: *mut pyro_ctx, max: usize) -> usize {
    guard(0, || match unsafe { ctx.as_ref() } {
        Some(c) => c.ctx.dispatch(max),
        None => 0,
    })
}

/// Number of completions waiting for `pyro_ctx_dispatch` (0 for NULL).
#[no_mangle]
pub extern "C" fn pyro_ctx_pending(ctx: *const pyro_ctx) -> usize {
    guard(0, || {
        unsafe { ctx.as_ref() }.map_or(0, |c| c.ctx.pending_completions())
    })
}

/// Free the context. Stops the internal threads, closes every connection, then runs,
/// on the calling thread and before returning, the callback of every call still
/// outstanding: real outcomes that already arrived, PYRO_ERR_CANCELLED for the rest.
/// No callback of this context runs after it returns. Proxies stay valid to free
/// afterwards (calls on them are refused). Calling it from inside one of this
/// context's own callbacks is refused: nothing is freed and it returns false.
/// NULL is ignored (returns true).
#[no_mangle]
pub extern "C" fn pyro_ctx_free(ctx: *mut pyro_ctx) -> bool {
    guard(false, || {
        if ctx.is_null() {
            return true;
        }
        // SAFETY: non-NULL pointer from pyro_ctx_new, not yet freed (caller's contract).
        let c = unsafe { &*ctx };
        if c.ctx.close().is_err() {
            return false;
        }
        drop(unsafe { Box::from_raw(ctx) });
        true
    })
}

/// Create a proxy for `uri` (`PYRO:objectid@host:port`, `PYRO:obj@[::1]:port`,
/// `PYRO:obj@./u:/path/to/socket`). No I/O happens until the first call. On failure
/// returns NULL and, if `error` is not NULL, stores an error there (caller owns it; free
/// with `pyro_error_free`). Caller owns the proxy; free with `pyro_proxy_free`.
#[no_mangle]
pub extern "C" fn pyro_proxy_new(
    ctx: *mut pyro_ctx,
    uri: *const c_char,
    error: *mut *mut pyro_error,
) -> *mut pyro_proxy {
    guard(std::ptr::null_mut(), || {
        let result = (|| {
            let c = unsafe { ctx.as_ref() }.ok_or_else(|| Error::invalid("ctx is NULL"))?;
            let uri = cstr(uri, "uri")?;
            c.ctx.proxy(uri)
        })();
        match result {
            Ok(proxy) => Box::into_raw(Box::new(pyro_proxy { proxy })),
            Err(e) => {
                set_out_error(error, e);
                std::ptr::null_mut()
            }
        }
    })
}

/// Free the proxy and close its connection. Its pending calls complete with
/// PYRO_ERR_CANCELLED through the next `pyro_ctx_dispatch` (so their user_data must stay
/// valid until then). May be called from inside a callback, including one of this
/// proxy's own. NULL is ignored.
#[no_mangle]
pub extern "C" fn pyro_proxy_free(proxy: *mut pyro_proxy) {
    guard((), || {
        if proxy.is_null() {
            return;
        }
        // SAFETY: pointer from pyro_proxy_new, not yet freed (caller's contract).
        let p = unsafe { Box::from_raw(proxy) };
        p.proxy.close();
    })
}

struct UserData(*mut c_void);
// SAFETY: the pointer is only handed back to the host's callbacks, on the thread that
// dispatches; the library never dereferences it.
unsafe impl Send for UserData {}

fn deliver(outcome: Outcome, on_result: pyro_result_cb, on_error: pyro_error_cb, ud: UserData) {
    match outcome {
        Ok(mut reply) => {
            if let Some(f) = on_result {
                crate::ffi::value::terminate_strings(&mut reply.value);
                // SAFETY: C callback contract; the value outlives the call.
                unsafe { f(&reply.value as *const Value, ud.0) };
            }
        }
        Err(e) => {
            if let Some(f) = on_error {
                let err = pyro_error::from_error(e);
                unsafe { f(&err, ud.0) };
            }
        }
    }
}

/// Call `method` on the proxy's object without blocking.
///
/// `args` (a tuple or list, or NULL for none) and `kwargs` (a dict with str keys, or NULL)
/// are consumed, whatever the outcome. Exactly one of `on_result` / `on_error` runs
/// exactly once, later, inside `pyro_ctx_dispatch` on the dispatching thread (or inside
/// `pyro_ctx_free`). Either callback may be NULL to drop that outcome on purpose.
/// Returns the call id, or 0 if the call was refused (NULL proxy or method, args not a
/// tuple/list, kwargs not a dict with str keys, context closed); a refused call never
/// calls back.
#[no_mangle]
pub extern "C" fn pyro_call_async(
    proxy: *mut pyro_proxy,
    method: *const c_char,
    args: *mut Value,
    kwargs: *mut Value,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    // Take ownership first so every early return frees them.
    let args = crate::ffi::value::take(args);
    let kwargs = crate::ffi::value::take(kwargs);
    guard(0, move || {
        let Some(p) = (unsafe { proxy.as_ref() }) else {
            return 0;
        };
        let Ok(method) = cstr(method, "method") else {
            return 0;
        };
        let Ok(req) = build_request(method, args, kwargs) else {
            return 0;
        };
        let ud = UserData(user_data);
        let cb = Box::new(move |outcome: Outcome| deliver(outcome, on_result, on_error, ud));
        p.proxy.call(req, cb).unwrap_or(0)
    })
}

pub(crate) fn build_request(
    method: &str,
    args: Option<Value>,
    kwargs: Option<Value>,
) -> Result<CallRequest, Error> {
    let args = match args {
        None => Vec::new(),
        Some(Value::Tuple(v)) | Some(Value::List(v)) => v,
        Some(other) => {
            return Err(Error::invalid(format!(
                "args must be a tuple or list, not {:?}",
                other.kind()
            )))
        }
    };
    let kwargs = match kwargs {
        None => Vec::new(),
        Some(Value::Dict(items)) => items
            .into_iter()
            .map(|(k, v)| match k {
                Value::Str(s) => Ok((s, v)),
                _ => Err(Error::invalid("kwargs keys must be str")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(Error::invalid("kwargs must be a dict")),
    };
    Ok(CallRequest {
        method: method.to_string(),
        args,
        kwargs,
        flags: 0,
    })
}

/// Run `fn(user_data)` once on the thread that dispatches, inside the next
/// `pyro_ctx_dispatch` (or inside `pyro_ctx_free`). Callable from any thread: the
/// standard way to hand work from a worker thread to the host loop. Returns false (and
/// never calls `fn`) for NULL arguments or a closed context.
#[no_mangle]
pub extern "C" fn pyro_ctx_post(
    ctx: *mut pyro_ctx,
    func: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    user_data: *mut c_void,
) -> bool {
    guard(false, || {
        let (Some(c), Some(f)) = (unsafe { ctx.as_ref() }, func) else {
            return false;
        };
        let ud = UserData(user_data);
        c.ctx.post(Box::new(move || {
            let ud = ud;
            unsafe { f(ud.0) }
        }))
    })
}

/// Cancel a pending call. Returns true if it was still pending: its `on_error` then gets
/// PYRO_ERR_CANCELLED at the next `pyro_ctx_dispatch` (the fd turns readable at once).
/// A call already on the wire is not stopped on the server; its late reply is dropped.
#[no_mangle]
pub extern "C" fn pyro_call_cancel(ctx: *mut pyro_ctx, id: pyro_call_id) -> bool {
    guard(false, || match unsafe { ctx.as_ref() } {
        Some(c) => c.ctx.cancel(id),
        None => false,
    })
}

fn cstr<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL, NUL-terminated per the C contract.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} is not valid UTF-8"),
        )
    })
}
