//! C ABI: context, proxies, asynchronous calls.

use crate::error::{repr_preview, Error, ErrorKind};
use crate::ffi::boundary::{
    a, checked, checked_out, ctx_arg, guard, null, proxy_arg, type_name, wrong_kind,
};
use crate::ffi::error::pyro_error;

use crate::runtime::{CallRequest, Context, ContextOptions, Outcome, Patience, Proxy};
use crate::serial::SerializerId;
use crate::value::Value;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A client context: one internal I/O thread and one completion fd. Create with
/// `pyro_ctx_new`, free with `pyro_ctx_free`.
///
/// The handle is reference-counted: the reference `pyro_ctx_new` returns (released by
/// `pyro_ctx_free`), one per `pyro_ctx_ref`, and one that `pyro_ctx_dispatch` holds
/// while it runs, so a callback that frees the context never pulls the memory from
/// under the dispatch that runs it.
pub struct pyro_ctx {
    pub(crate) ctx: Context,
    /// The host's own reference is gone (`pyro_ctx_free` ran).
    freed: AtomicBool,
}

/// A reference to the handle for the length of one call into the library.
fn hold(ctx: *const pyro_ctx) -> Option<Arc<pyro_ctx>> {
    if ctx.is_null() {
        return None;
    }
    // SAFETY: a live handle from pyro_ctx_new (caller's contract): its count is at
    // least one, and the Arc made here owns the increment.
    unsafe {
        Arc::increment_strong_count(ctx);
        Some(Arc::from_raw(ctx))
    }
}

/// A proxy for one remote object. Create with `pyro_proxy_new`, free with `pyro_proxy_free`.
pub struct pyro_proxy {
    pub(crate) proxy: Proxy,
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

/// Context options. Always initialise with `pyro_ctx_options_init(&o, sizeof o)` first,
/// then set the fields you care about. String fields are borrowed during `pyro_ctx_new`
/// only.
///
/// Fields are only ever added at the end, and `struct_size` tells the library which
/// layout the program was built with: a newer library writes and reads only the fields
/// an older program's struct has (the rest take their defaults), and an older library
/// refuses a newer program's struct only if a field it does not know is set (non-zero).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pyro_ctx_options {
    /// `sizeof` the caller's struct, as passed to `pyro_ctx_options_init` (which sets
    /// it). `pyro_ctx_new` refuses a struct whose `struct_size` is 0 (not initialised).
    pub struct_size: usize,
    /// Serializer for new proxies (a `pyro_serializer` value). Default: serpent, or
    /// `PYRO_SERIALIZER` from the environment.
    pub serializer: c_int,
    /// Largest message, in bytes (at least 1024). Default 64 MiB. It bounds, in both
    /// directions: a reply's data + annotations as its header announces them (checked
    /// before anything is allocated; the connection fails with PYRO_ERR_PROTOCOL); a
    /// compressed reply once decompressed (PYRO_ERR_PROTOCOL for that call); a request,
    /// refused with PYRO_ERR_INVALID_ARGUMENT before anything is sent (as Pyro4 does).
    /// What a reply decodes into is bounded by the reply's size: at most 32 bytes of
    /// values per byte, plus what pickle's memo and marshal's references copy (charged:
    /// at most 32x the message, at least 1 MiB; beyond, PYRO_ERR_SERIALIZATION), so about
    /// 64x in the worst case. Replies over 64 KiB (and compressed ones) are decoded on
    /// internal decode threads, never on the I/O thread or the host's.
    pub max_message_size: u64,
    /// Connect (TCP + handshake) timeout in milliseconds; 0 = none. Default 10000.
    pub connect_timeout_ms: u32,
    /// Threads for blocking work (host-name resolution, locating the name server, name
    /// lookups); 1..16. Default 2. The library's thread count is this plus one I/O thread.
    pub worker_threads: u32,
    /// Name server host; NULL = `PYRO_NS_HOST` or "localhost".
    pub ns_host: *const c_char,
    /// Name server port; 0 = `PYRO_NS_PORT` or 9090.
    pub ns_port: u16,
    /// UDP port for name server broadcast discovery; 0 = `PYRO_NS_BCPORT` or 9091.
    pub ns_bcport: u16,
    /// Comma-separated broadcast addresses for discovery; NULL = `PYRO_BROADCAST_ADDRS`
    /// or "<broadcast>, 0.0.0.0"; "" disables broadcast discovery.
    pub broadcast_addrs: *const c_char,
    /// Patience for new proxies: retry interval (ms) and tries; tries 0 = not patient
    /// (the default). See `pyro_proxy_set_patience`.
    pub patience_interval_ms: u32,
    pub patience_max_tries: u32,
    /// Retries of a call that failed on a dead connection (`PYRO_MAX_RETRIES`, default 0).
    pub max_retries: u32,
    /// Default per-call deadline in ms for new proxies; 0 = none (`PYRO_COMMTIMEOUT`).
    pub call_timeout_ms: u32,
}

// Each layout must end exactly at its last field: an older layout's size then covers
// exactly its own fields, never a newer field in its trailing padding. Add fields in
// groups that keep this true (pad with an explicit reserved field if need be).
const _: () = assert!(
    std::mem::offset_of!(pyro_ctx_options, call_timeout_ms) + 4
        == std::mem::size_of::<pyro_ctx_options>()
);

/// Default patience interval (ms) when patience is enabled.
pub const PYRO_PATIENCE_DEFAULT_INTERVAL_MS: u32 = 2000;
/// Default number of tries when patience is enabled (2 s x 43,200 = 24 h).
pub const PYRO_PATIENCE_DEFAULT_TRIES: u32 = 43200;

fn serializer_from_c(s: c_int) -> Option<SerializerId> {
    SerializerId::from_u16(u16::try_from(s).ok()?)
}

fn ms(d: Option<Duration>) -> u32 {
    d.map_or(0, |d| d.as_millis().min(u32::MAX as u128) as u32)
}

/// Fill `options` with the defaults (environment variables included). `size` is
/// `sizeof *options` as the caller compiled it: only that many bytes are written (an
/// older layout gets the fields it has; a newer one gets its unknown fields zeroed).
/// NULL is ignored. Refused (`pyro_last_error`, nothing written) if `size` is too small
/// to hold `struct_size`.
#[no_mangle]
pub extern "C" fn pyro_ctx_options_init(options: *mut pyro_ctx_options, size: usize) {
    checked((), || {
        if options.is_null() {
            return Ok(());
        }
        check_options_size(size, "size")?;
        let c = default_options(size);
        let ours = std::mem::size_of::<pyro_ctx_options>();
        let dst = options.cast::<u8>();
        // SAFETY: the caller's struct is `size` writable bytes (C contract); we write at
        // most that many.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&c as *const pyro_ctx_options).cast::<u8>(),
                dst,
                size.min(ours),
            );
            if size > ours {
                std::ptr::write_bytes(dst.add(ours), 0, size - ours);
            }
        }
        Ok(())
    })
}

fn default_options(struct_size: usize) -> pyro_ctx_options {
    let d = ContextOptions::from_env();
    pyro_ctx_options {
        struct_size,
        serializer: d.serializer as c_int,
        max_message_size: d.max_message_size as u64,
        connect_timeout_ms: ms(Some(d.connect_timeout)),
        worker_threads: d.worker_threads as u32,
        ns_host: std::ptr::null(),
        ns_port: 0,
        ns_bcport: 0,
        broadcast_addrs: std::ptr::null(),
        patience_interval_ms: d
            .patience
            .map_or(PYRO_PATIENCE_DEFAULT_INTERVAL_MS, |p| ms(Some(p.interval))),
        patience_max_tries: d.patience.map_or(0, |p| p.max_tries),
        max_retries: d.max_retries,
        call_timeout_ms: ms(d.call_timeout),
    }
}

fn check_options_size(size: usize, name: &str) -> Result<(), Error> {
    if size < std::mem::size_of::<usize>() {
        return Err(Error::invalid(format!(
            "{name} is {size}: pyro_ctx_options was not initialised with \
             pyro_ctx_options_init(&o, sizeof o)"
        )));
    }
    Ok(())
}

/// The caller's options as this library's layout: fields past the caller's
/// `struct_size` take their defaults; a newer caller's fields we do not know must be 0.
fn options_from_caller(raw: *const pyro_ctx_options) -> Result<pyro_ctx_options, Error> {
    // SAFETY: non-NULL (checked by the caller); `struct_size` is the first field, which
    // every layout has.
    let size = unsafe { raw.cast::<usize>().read_unaligned() };
    check_options_size(size, "options->struct_size")?;
    let ours = std::mem::size_of::<pyro_ctx_options>();
    let src = raw.cast::<u8>();
    if size > ours {
        // SAFETY: the caller's struct is `size` readable bytes.
        let extra = unsafe { std::slice::from_raw_parts(src.add(ours), size - ours) };
        if let Some(at) = extra.iter().position(|&b| b != 0) {
            return Err(Error::invalid(format!(
                "options->struct_size is {size} but this library (version {}) knows {ours} \
                 bytes of pyro_ctx_options, and byte {} is set: the program was built \
                 against a newer pyro_async.h",
                env!("CARGO_PKG_VERSION"),
                ours + at
            )));
        }
    }
    let mut out = default_options(ours);
    // SAFETY: `size.min(ours)` bytes are readable at `src` and writable in `out`; every
    // layout ends at a field boundary, so whole fields are copied.
    unsafe {
        std::ptr::copy_nonoverlapping(
            src,
            (&mut out as *mut pyro_ctx_options).cast::<u8>(),
            size.min(ours),
        );
    }
    Ok(out)
}

pub(crate) fn patience_from_c(interval_ms: u32, max_tries: u32) -> Option<Patience> {
    (max_tries > 0).then(|| Patience {
        interval: Duration::from_millis(if interval_ms == 0 {
            PYRO_PATIENCE_DEFAULT_INTERVAL_MS
        } else {
            interval_ms
        } as u64),
        max_tries,
    })
}

fn options_from_c(raw: &pyro_ctx_options) -> Result<ContextOptions, Error> {
    let mut opts = ContextOptions::from_env();
    opts.serializer = serializer_from_c(raw.serializer).ok_or_else(|| {
        Error::invalid(format!(
            "options->serializer is {}, not a pyro_serializer value (1..4)",
            raw.serializer
        ))
    })?;
    if raw.worker_threads == 0 || raw.worker_threads > 16 {
        return Err(Error::invalid(format!(
            "options->worker_threads is {}, not 1..16",
            raw.worker_threads
        )));
    }
    if raw.max_message_size < 1024 {
        return Err(Error::invalid(format!(
            "options->max_message_size is {}, less than 1024",
            raw.max_message_size
        )));
    }
    opts.max_message_size = usize::try_from(raw.max_message_size).unwrap_or(usize::MAX);
    opts.connect_timeout = Duration::from_millis(raw.connect_timeout_ms as u64);
    opts.worker_threads = raw.worker_threads as usize;
    if !raw.ns_host.is_null() {
        opts.ns.host = cstr(raw.ns_host, "options->ns_host")?.to_string();
    }
    if raw.ns_port != 0 {
        opts.ns.port = raw.ns_port;
    }
    if !raw.broadcast_addrs.is_null() {
        let addrs = crate::naming::discovery::parse_addresses(cstr(
            raw.broadcast_addrs,
            "options->broadcast_addrs",
        )?);
        if addrs.is_empty() {
            opts.ns.discovery = None;
        } else {
            opts.ns
                .discovery
                .get_or_insert_with(Default::default)
                .addresses = addrs;
        }
    }
    if raw.ns_bcport != 0 {
        if let Some(d) = opts.ns.discovery.as_mut() {
            d.port = raw.ns_bcport;
        }
    }
    opts.patience = patience_from_c(raw.patience_interval_ms, raw.patience_max_tries);
    opts.max_retries = raw.max_retries;
    opts.call_timeout =
        (raw.call_timeout_ms > 0).then(|| Duration::from_millis(raw.call_timeout_ms as u64));
    Ok(opts)
}

/// Create a context. `options` may be NULL for the defaults; it is only read during the
/// call. Returns NULL if the options are invalid or the system is out of resources
/// (`pyro_last_error` says which field, or what failed). Caller owns the result; free
/// with `pyro_ctx_free`.
#[no_mangle]
pub extern "C" fn pyro_ctx_new(options: *const pyro_ctx_options) -> *mut pyro_ctx {
    checked(std::ptr::null_mut(), || {
        let opts = if options.is_null() {
            ContextOptions::from_env()
        } else {
            options_from_c(&options_from_caller(options)?)?
        };
        let ctx = Context::new(opts)?;
        Ok(Arc::into_raw(Arc::new(pyro_ctx {
            ctx,
            freed: AtomicBool::new(false),
        })) as *mut pyro_ctx)
    })
}

/// The fd to watch for readability (borrowed: owned by the context, do not close it).
/// It is readable while completions are pending; call `pyro_ctx_dispatch` then. It is
/// the same fd for the context's whole life: an eventfd on Linux (a pipe elsewhere), or
/// an epoll fd once `pyro_ctx_read_replies_in_dispatch` was called before the first
/// `pyro_ctx_fd` (also readable when reply bytes have arrived). A handle kept by
/// `pyro_ctx_ref` past `pyro_ctx_free` still returns it (open, and never readable again
/// until the last reference goes).
/// Returns -1 for a NULL context, and in a child process forked after the context was
/// made.
#[no_mangle]
pub extern "C" fn pyro_ctx_fd(ctx: *const pyro_ctx) -> c_int {
    checked(-1, || Ok(ctx_arg(ctx)?.ctx.fd()))
}

/// Let the context's I/O thread poll without sleeping for up to `microseconds` after
/// socket activity (0 = off, the default; at most 10000). Replies that arrive within the
/// window are seen without a thread wake-up: lower latency against fast servers, paid
/// for with CPU time spent spinning (up to one core while replies keep coming quickly).
/// Returns false, changing nothing, for a NULL context or a window above 10000.
#[no_mangle]
pub extern "C" fn pyro_ctx_set_busy_poll(ctx: *mut pyro_ctx, microseconds: u32) -> bool {
    checked(false, || {
        let c = ctx_arg(ctx)?;
        c.ctx
            .set_busy_poll(Duration::from_micros(microseconds.into()))?;
        Ok(true)
    })
}

/// Read replies on the thread that calls `pyro_ctx_dispatch` instead of the I/O thread
/// (off by default; Linux only). Each reply then wakes one thread instead of two, which
/// saves up to half the client CPU time per call (most at low concurrency) and cuts
/// latency. `ctx` is borrowed; the fd `pyro_ctx_fd` then returns stays owned by the
/// context, like the eventfd.
///
/// What changes for the host:
/// - `pyro_ctx_fd` returns an epoll fd (a set holding the completion eventfd and the
///   connections' sockets) instead of the eventfd. Watch it for readability exactly as
///   before; poll, glib, libuv, Qt and epoll (level- or edge-triggered) all accept it.
/// - It is readable while completions are pending *or reply bytes have arrived*. A
///   dispatch may therefore run no callback when only part of a reply was in; the fd is
///   then not readable again until more arrives.
/// - Replies wait in the kernel until the host dispatches, as completions wait in the
///   queue; `pyro_ctx_pending` counts only completions already read. They are decoded
///   on the dispatching thread too (a huge reply costs that thread its decoding time).
///
/// Unchanged: callbacks run only inside `pyro_ctx_dispatch`, every call completes
/// exactly once, call order, timeouts, retries, cancellation and teardown. TLS
/// connections keep being read by the I/O thread, and the I/O thread's busy polling does
/// not apply to sockets read in dispatch.
///
/// Call it before the first `pyro_ctx_fd` (before attaching a loop adapter); it cannot
/// be turned off. Connections opened before it move over when they next connect.
/// Returns true if the mode is on (also when it already was). Returns false, changing
/// nothing, for a NULL context, after `pyro_ctx_fd` was called, or where the system
/// has no epoll; then `*error` (if `error` is not NULL) receives an INVALID_ARGUMENT
/// error that the caller owns and frees with `pyro_error_free`.
#[no_mangle]
pub extern "C" fn pyro_ctx_read_replies_in_dispatch(
    ctx: *mut pyro_ctx,
    error: *mut *mut pyro_error,
) -> bool {
    checked_out(false, error, || {
        ctx_arg(ctx)?.ctx.read_replies_in_dispatch()?;
        Ok(true)
    })
}

/// Run up to `max` pending callbacks (0 = all pending) on the calling thread; returns
/// how many ran. If it stops at `max`, the fd stays readable. 0 for a NULL context (and
/// `pyro_last_error` set; it is cleared when the dispatch itself succeeded, whatever the
/// callbacks' own calls left there).
///
/// If a callback frees the context (`pyro_ctx_free`), the round stops after that
/// callback and the teardown runs before this returns: the remaining calls' callbacks
/// run, with their outcome if it had arrived, else PYRO_ERR_CANCELLED; the count
/// includes them. `ctx` must not be used after such a dispatch (unless a `pyro_ctx_ref`
/// keeps the handle): the host knows, since its own callback freed it.
///
/// In a child process forked after the context was made, returns 0 and runs, reads
/// and clears nothing: the queue, the fd and the connections are the parent's.
#[no_mangle]
pub extern "C" fn pyro_ctx_dispatch(ctx: *mut pyro_ctx, max: usize) -> usize {
    checked(0, || {
        let c = hold(ctx).ok_or_else(|| null("ctx"))?;
        Ok(c.ctx.dispatch(max))
    })
}

/// Number of completions waiting for `pyro_ctx_dispatch` (0 for NULL, with
/// `pyro_last_error` set). With replies read in dispatch, replies still in the sockets are
/// not counted until a dispatch reads them.
#[no_mangle]
pub extern "C" fn pyro_ctx_pending(ctx: *const pyro_ctx) -> usize {
    checked(0, || Ok(ctx_arg(ctx)?.ctx.pending_completions()))
}

/// Free the context. Stops the internal threads, closes every connection, then runs,
/// on the calling thread and before returning, the callback of every call still
/// outstanding: real outcomes that already arrived, PYRO_ERR_CANCELLED for the rest.
/// No callback of this context runs after it returns. Proxies stay valid to free
/// afterwards (calls on them are refused). `ctx` must not be used after this call
/// (unless a `pyro_ctx_ref` keeps the handle). NULL is ignored.
///
/// Inside one of this context's own callbacks the free is deferred (as hiredis does):
/// from then on new calls, proxies and posted work are refused; the dispatch round
/// stops after the current callback; at its end, before `pyro_ctx_dispatch` (or
/// `pyro_call_sync`) returns, the teardown above runs on that thread and the handle is
/// released. Every outstanding call still gets exactly one callback. Calling
/// `pyro_ctx_free` again from the callbacks the teardown runs is allowed and ignored.
///
/// In a child process forked after the context was made, nothing is stopped, joined
/// or called back (those threads and calls belong to the parent), and the context's
/// memory and fds are left as they are, deliberately: they are released when the child
/// execs or exits.
#[no_mangle]
pub extern "C" fn pyro_ctx_free(ctx: *mut pyro_ctx) {
    guard((), || {
        if ctx.is_null() {
            return;
        }
        // SAFETY: non-NULL pointer from pyro_ctx_new whose host reference is still held,
        // or is held by the dispatch running the teardown that calls this again.
        let c = unsafe { &*ctx };
        if c.ctx.is_forked() || c.freed.swap(true, Ordering::SeqCst) {
            return;
        }
        // SAFETY: takes over the host's reference, released once the teardown is done:
        // the teardown's callbacks may still pass `ctx` (to free it again, say).
        let host_ref = unsafe { Arc::from_raw(ctx as *const pyro_ctx) };
        let _ = c.ctx.close_then(Some(Box::new(move || drop(host_ref))));
    })
}

/// Take a reference to the context handle; returns `ctx` (NULL for NULL). For code that
/// watches a context on behalf of its owner, such as the loop adapters: with a
/// reference, `ctx` stays valid memory after the owner's `pyro_ctx_free`, so the
/// adapter may be detached before or after the context is freed. A reference keeps
/// the handle, not the context: `pyro_ctx_free` still stops it and runs its callbacks.
/// A freed context held by a reference keeps its fd open and never readable again;
/// `pyro_ctx_dispatch` and `pyro_ctx_pending` return 0, `pyro_ctx_fd` the same fd, and
/// functions that start work refuse it. Release each reference with `pyro_ctx_unref`.
#[no_mangle]
pub extern "C" fn pyro_ctx_ref(ctx: *mut pyro_ctx) -> *mut pyro_ctx {
    guard(std::ptr::null_mut(), || match hold(ctx) {
        Some(c) => Arc::into_raw(c) as *mut pyro_ctx,
        None => std::ptr::null_mut(),
    })
}

/// Release a reference taken with `pyro_ctx_ref`. Releasing the last one of a context
/// that was never freed frees it as `pyro_ctx_free` would. NULL is ignored. Never use
/// it for the reference `pyro_ctx_new` returned: that one is released by `pyro_ctx_free`.
#[no_mangle]
pub extern "C" fn pyro_ctx_unref(ctx: *mut pyro_ctx) {
    guard((), || {
        if !ctx.is_null() {
            // SAFETY: a reference taken with pyro_ctx_ref (caller's contract).
            drop(unsafe { Arc::from_raw(ctx as *const pyro_ctx) });
        }
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
    checked_out(std::ptr::null_mut(), error, || {
        let proxy = ctx_arg(ctx)?.ctx.proxy(cstr(uri, "uri")?)?;
        Ok(Box::into_raw(Box::new(pyro_proxy { proxy })))
    })
}

/// Free the proxy and close its connection. Its pending calls complete with
/// PYRO_ERR_CANCELLED through the next `pyro_ctx_dispatch` (so their user_data must stay
/// valid until then). May be called from inside a callback, including one of this
/// proxy's own. NULL is ignored. In a child process forked after its context was made
/// it only frees the handle: the connection and the calls are the parent's.
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

pub(crate) struct UserData(pub(crate) *mut c_void);
// SAFETY: the pointer is only handed back to the host's callbacks, on the thread that
// dispatches; the library never dereferences it.
unsafe impl Send for UserData {}
// SAFETY: as above; shared only to be passed back to the host.
unsafe impl Sync for UserData {}

pub(crate) fn deliver(
    outcome: Outcome,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    ud: UserData,
) {
    match outcome {
        Ok(mut reply) => {
            if let Some(f) = on_result {
                crate::ffi::value::terminate_strings(&mut reply.value);
                crate::ffi::wire::with_response_annotations(&reply.annotations, || {
                    // SAFETY: C callback contract; the value outlives the call.
                    unsafe { f(&reply.value as *const Value, ud.0) };
                });
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
/// tuple/list, kwargs not a dict with str keys, context closed or being freed, a child
/// process forked after the context was made; `pyro_last_error` says which); a refused
/// call never calls back. A method that returns an iterator (a generator) fails with
/// PYRO_ERR_INVALID_ARGUMENT and has its stream closed on the server: use
/// `pyro_call_stream` for those.
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
    checked(0, || {
        // Taken first, so that every refusal frees them.
        let args = crate::ffi::value::take(args);
        let kwargs = crate::ffi::value::take(kwargs);
        let p = proxy_arg(proxy)?;
        let req = build_request(cstr(method, "method")?, args, kwargs)?;
        let ud = UserData(user_data);
        let cb = Box::new(move |outcome: Outcome| deliver(outcome, on_result, on_error, ud));
        p.call(req, cb)
    })
}

/// Call `method` and wait for its outcome: for sequential programs (tools, tests,
/// scripts). Blocks the calling thread, dispatching the proxy's context meanwhile, so
/// the callbacks of other calls that complete during the wait run on this thread, as
/// inside `pyro_ctx_dispatch`; use it on the thread that dispatches the context (or in
/// a program that has no loop). `args` and `kwargs` are consumed as by
/// `pyro_call_async`, whatever the outcome.
///
/// `timeout_ms` is this call's deadline (PYRO_ERR_TIMEOUT when it passes, handled like
/// the proxy's own deadline: the late reply is dropped); 0 = only the proxy's deadline
/// (`pyro_proxy_set_timeout`), if it has one, else wait as long as it takes.
///
/// On entry `*result` and `*error` are set to NULL (each pointer may itself be NULL to
/// ignore that outcome). Returns true with `*result` = the return value (caller owns;
/// free with `pyro_value_free`), or false with `*error` = why (caller owns; free with
/// `pyro_error_free`): the remote exception, a communication error, a timeout,
/// PYRO_ERR_CANCELLED if the call was cancelled or the context freed during the wait,
/// or PYRO_ERR_INVALID_ARGUMENT for what `pyro_call_async` refuses (NULL proxy or
/// method, bad args or kwargs, closed context, a forked child) and for a call made
/// inside one of the context's own callbacks, which is refused rather than run:
/// waiting there would stall the loop running that callback and run other callbacks
/// inside it.
///
/// A callback that runs during the wait may free this proxy (the call then fails with
/// PYRO_ERR_CANCELLED) or the context (it is torn down when this returns, as after a
/// dispatch round).
#[no_mangle]
pub extern "C" fn pyro_call_sync(
    proxy: *mut pyro_proxy,
    method: *const c_char,
    args: *mut Value,
    kwargs: *mut Value,
    timeout_ms: u32,
    result: *mut *mut Value,
    error: *mut *mut pyro_error,
) -> bool {
    // SAFETY: the caller passes writable out-parameters or NULL.
    unsafe {
        if !result.is_null() {
            *result = std::ptr::null_mut();
        }
        if !error.is_null() {
            *error = std::ptr::null_mut();
        }
    }
    checked_out(false, error, move || {
        let args = crate::ffi::value::take(args);
        let kwargs = crate::ffi::value::take(kwargs);
        // A clone: a callback run during the wait may free the caller's handle.
        let p = proxy_arg(proxy)?.clone();
        let req = build_request(cstr(method, "method")?, args, kwargs)?;
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into()));
        let reply = p.call_sync(req, timeout)?;
        if !result.is_null() {
            // SAFETY: checked non-NULL above; the caller owns what is stored.
            unsafe { *result = crate::ffi::value::boxed(reply.value) };
        }
        Ok(true)
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
        Some(other) => return Err(wrong_kind("args", &other, "a tuple or list")),
    };
    let kwargs = match kwargs {
        None => Vec::new(),
        Some(Value::Dict(items)) => items
            .into_iter()
            .map(|(k, v)| match k {
                Value::Str(s) => Ok((s, v)),
                other => Err(Error::invalid(format!(
                    "kwargs has a key that is {}, not a str: {}",
                    a(type_name(&other)),
                    repr_preview(&other)
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(wrong_kind("kwargs", &other, "a dict")),
    };
    Ok(CallRequest {
        method: method.to_string(),
        args,
        kwargs,
        flags: 0,
        object: None,
        kind: crate::runtime::CallKind::Invoke,
    })
}

/// Run `fn(user_data)` once on the thread that dispatches, inside the next
/// `pyro_ctx_dispatch` (or inside `pyro_ctx_free`). Callable from any thread: the
/// standard way to hand work from a worker thread to the host loop. Returns false (and
/// never calls `fn`) for NULL arguments, a closed context (or one being freed), and in
/// a child process forked after the context was made.
#[no_mangle]
pub extern "C" fn pyro_ctx_post(
    ctx: *mut pyro_ctx,
    func: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    user_data: *mut c_void,
) -> bool {
    checked(false, || {
        let c = ctx_arg(ctx)?;
        let f = func.ok_or_else(|| null("fn"))?;
        let ud = UserData(user_data);
        let posted = c.ctx.post(Box::new(move || {
            let ud = ud;
            unsafe { f(ud.0) }
        }));
        if !posted {
            return Err(Error::invalid("context is closed"));
        }
        Ok(true)
    })
}

/// Cancel a pending call. Returns true if it was still pending: its `on_error` then gets
/// PYRO_ERR_CANCELLED at the next `pyro_ctx_dispatch` (the fd turns readable at once).
/// A call already on the wire is not stopped on the server; its late reply is dropped.
/// False for a NULL context or a call that is not pending (completed, cancelled, never
/// issued), and in a child process forked after the context was made.
#[no_mangle]
pub extern "C" fn pyro_call_cancel(ctx: *mut pyro_ctx, id: pyro_call_id) -> bool {
    checked(false, || {
        if !ctx_arg(ctx)?.ctx.cancel(id) {
            return Err(Error::invalid(format!(
                "call {id} is not pending (it completed or was cancelled, or was never issued)"
            )));
        }
        Ok(true)
    })
}

pub(crate) fn cstr<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
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
