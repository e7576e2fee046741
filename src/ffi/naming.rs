//! C ABI: patient proxies, connection state, retries, deadlines, and the name server.

use crate::error::Error;
use crate::ffi::boundary::{checked, checked_out, ctx_arg, proxy_arg as proxy, type_name};
use crate::ffi::ctx::{
    cstr, deliver, patience_from_c, pyro_call_id, pyro_ctx, pyro_error_cb, pyro_proxy,
    pyro_result_cb, UserData,
};
use crate::ffi::error::pyro_error;
use crate::ffi::value::take;
use crate::runtime::{CallRequest, ConnState, Outcome};
use crate::value::Value;
use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

/// Connection states reported by `pyro_proxy_set_state_callback`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pyro_conn_state {
    /// Looking the name up in the name server (off the host thread).
    PYRO_STATE_RESOLVING = 1,
    /// Patient proxy: the name server, the name or the server is not there yet; waiting
    /// for the next try (a timer: no thread waits).
    PYRO_STATE_WAITING_FOR_NAME_SERVER = 2,
    /// TCP connect and Pyro4 handshake in progress.
    PYRO_STATE_CONNECTING = 3,
    /// Connected; calls flow.
    PYRO_STATE_CONNECTED = 4,
    /// The connection closed or could not be made; the next call connects again.
    PYRO_STATE_DISCONNECTED = 5,
}

impl From<ConnState> for pyro_conn_state {
    fn from(s: ConnState) -> Self {
        use pyro_conn_state::*;
        match s {
            ConnState::Resolving => PYRO_STATE_RESOLVING,
            ConnState::WaitingForNameServer => PYRO_STATE_WAITING_FOR_NAME_SERVER,
            ConnState::Connecting => PYRO_STATE_CONNECTING,
            ConnState::Connected => PYRO_STATE_CONNECTED,
            ConnState::Disconnected => PYRO_STATE_DISCONNECTED,
        }
    }
}

/// Called with each connection state change of a proxy, inside `pyro_ctx_dispatch`.
pub type pyro_state_cb =
    Option<unsafe extern "C" fn(state: pyro_conn_state, user_data: *mut c_void)>;

/// Make a proxy patient: while its name cannot be resolved (no name server, name not
/// registered) or its server cannot be reached, calls wait and it tries again every
/// `interval_ms` (0 = PYRO_PATIENCE_DEFAULT_INTERVAL_MS), up to `max_tries` times, then
/// they fail with PYRO_ERR_NAMING (or COMMUNICATION). `max_tries` 0 turns patience off.
/// Waiting holds no thread. Returns false for a NULL proxy.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_patience(
    p: *mut pyro_proxy,
    interval_ms: u32,
    max_tries: u32,
) -> bool {
    checked(false, || {
        proxy(p)?.set_patience(patience_from_c(interval_ms, max_tries));
        Ok(true)
    })
}

/// Report the proxy's connection state changes to `cb` (NULL to stop), inside
/// `pyro_ctx_dispatch` like every callback. `user_data` must stay valid until the proxy
/// is freed or the callback replaced. Returns false for a NULL proxy.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_state_callback(
    p: *mut pyro_proxy,
    cb: pyro_state_cb,
    user_data: *mut c_void,
) -> bool {
    checked(false, || {
        let p = proxy(p)?;
        let ud = Arc::new(UserData(user_data));
        p.set_state_callback(cb.map(|f| {
            let cb: crate::runtime::StateCallback =
                Arc::new(move |s: ConnState| unsafe { f(s.into(), ud.0) });
            cb
        }));
        Ok(true)
    })
}

/// Retry a call that failed because its connection died, up to `n` times on a fresh
/// connection (Pyro4's MAX_RETRIES). Note: a retried call may run twice on the server.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_max_retries(p: *mut pyro_proxy, n: u32) -> bool {
    checked(false, || {
        proxy(p)?.set_max_retries(n);
        Ok(true)
    })
}

/// Deadline for each later call of this proxy, in ms (0 = none). A call past its deadline
/// completes with PYRO_ERR_TIMEOUT even if the server never answers, and only that call:
/// calls already sent behind it keep their own deadlines and get their replies, while the
/// proxy's new calls go over a fresh connection (the old one is closed once nothing it
/// carries is awaited; its late reply is matched by sequence number and dropped). With
/// Pyro4's per-connection (session) instance mode, the new connection reaches a new
/// server object, as after any reconnect.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_timeout(p: *mut pyro_proxy, timeout_ms: u32) -> bool {
    checked(false, || {
        proxy(p)?.set_timeout((timeout_ms > 0).then(|| Duration::from_millis(timeout_ms as u64)));
        Ok(true)
    })
}

/// A new proxy for the name server itself (`PYRONAME:Pyro.NameServer`, located as
/// configured: NS host/port, broadcast), with its own connection. Caller owns it; free
/// with `pyro_proxy_free`, which leaves the context's `pyro_ns_*` calls unaffected (they
/// use a proxy of the context's own). NULL (and `*error`, if not NULL) on failure.
#[no_mangle]
pub extern "C" fn pyro_ns_proxy_new(
    ctx: *mut pyro_ctx,
    error: *mut *mut pyro_error,
) -> *mut pyro_proxy {
    checked_out(std::ptr::null_mut(), error, || {
        // Not the context's cached proxy: freeing the caller's closes it.
        let proxy = ctx_arg(ctx)?.ctx.proxy(&format!(
            "PYRONAME:{}",
            crate::naming::resolve::NAMESERVER_NAME
        ))?;
        Ok(Box::into_raw(Box::new(pyro_proxy { proxy })))
    })
}

struct NsCall {
    method: &'static str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
}

/// `call` converts the arguments (inside the guard, and first: it takes ownership of
/// the consumed ones, so a refusal frees them).
fn ns_call(
    ctx: *mut pyro_ctx,
    call: impl FnOnce() -> Result<NsCall, Error>,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    checked(0, move || {
        let call = call();
        let c = ctx_arg(ctx)?;
        let call = call?;
        let ns = c.ctx.name_server()?;
        let ud = UserData(user_data);
        let req = CallRequest::new(call.method, call.args, call.kwargs);
        ns.call(
            req,
            Box::new(move |o: Outcome| deliver(o, on_result, on_error, ud)),
        )
    })
}

fn opt_str(p: *const c_char, what: &str) -> Result<Value, Error> {
    if p.is_null() {
        Ok(Value::None)
    } else {
        cstr(p, what).map(Value::str)
    }
}

fn as_set(v: Option<Value>, what: &str) -> Result<Value, Error> {
    match v {
        None => Ok(Value::None),
        Some(Value::Set(items) | Value::List(items) | Value::Tuple(items)) => Ok(Value::Set(items)),
        Some(other) => Err(Error::invalid(format!(
            "{what} is {}, not a set, list or tuple of str",
            crate::ffi::boundary::a(type_name(&other))
        ))),
    }
}

/// Look a name up in the name server: `on_result` gets the object's URI (an object
/// value of class "Pyro4.core.URI"), or `(uri, {metadata})` with `return_metadata`.
/// Returns the call id, 0 if refused (NULL ctx or name). Callbacks as `pyro_call_async`.
#[no_mangle]
pub extern "C" fn pyro_ns_lookup(
    ctx: *mut pyro_ctx,
    name: *const c_char,
    return_metadata: bool,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    let call = || {
        Ok(NsCall {
            method: "lookup",
            args: vec![
                Value::str(cstr(name, "name")?),
                Value::Bool(return_metadata),
            ],
            kwargs: vec![],
        })
    };
    ns_call(ctx, call, on_result, on_error, user_data)
}

/// List registrations: a dict name -> URI text (or name -> (uri, {metadata}) with
/// `return_metadata`). `prefix` / `regex` may be NULL; `metadata_all` / `metadata_any`
/// (sets or lists of str, consumed, may be NULL) filter by metadata.
#[no_mangle]
pub extern "C" fn pyro_ns_list(
    ctx: *mut pyro_ctx,
    prefix: *const c_char,
    regex: *const c_char,
    metadata_all: *mut Value,
    metadata_any: *mut Value,
    return_metadata: bool,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    let call = || {
        let (all, any) = (take(metadata_all), take(metadata_any));
        Ok(NsCall {
            method: "list",
            args: vec![],
            kwargs: vec![
                ("prefix".into(), opt_str(prefix, "prefix")?),
                ("regex".into(), opt_str(regex, "regex")?),
                ("metadata_all".into(), as_set(all, "metadata_all")?),
                ("metadata_any".into(), as_set(any, "metadata_any")?),
                ("return_metadata".into(), Value::Bool(return_metadata)),
            ],
        })
    };
    ns_call(ctx, call, on_result, on_error, user_data)
}

/// Register `name` -> `uri` (URI text) with optional `metadata` (set/list of str,
/// consumed, may be NULL). With `safe`, an existing name is an error instead of being
/// replaced. `on_result` gets None.
#[no_mangle]
pub extern "C" fn pyro_ns_register(
    ctx: *mut pyro_ctx,
    name: *const c_char,
    uri: *const c_char,
    safe: bool,
    metadata: *mut Value,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    let call = || {
        let meta = take(metadata);
        Ok(NsCall {
            method: "register",
            args: vec![
                Value::str(cstr(name, "name")?),
                Value::str(cstr(uri, "uri")?),
                Value::Bool(safe),
            ],
            kwargs: vec![("metadata".into(), as_set(meta, "metadata")?)],
        })
    };
    ns_call(ctx, call, on_result, on_error, user_data)
}

/// Remove registrations: by exact `name`, or all under `prefix`, or all matching
/// `regex` (NULL for unused). `on_result` gets the number removed.
#[no_mangle]
pub extern "C" fn pyro_ns_remove(
    ctx: *mut pyro_ctx,
    name: *const c_char,
    prefix: *const c_char,
    regex: *const c_char,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    let call = || {
        Ok(NsCall {
            method: "remove",
            args: vec![
                opt_str(name, "name")?,
                opt_str(prefix, "prefix")?,
                opt_str(regex, "regex")?,
            ],
            kwargs: vec![],
        })
    };
    ns_call(ctx, call, on_result, on_error, user_data)
}

/// Ping the name server (`on_result` gets None).
#[no_mangle]
pub extern "C" fn pyro_ns_ping(
    ctx: *mut pyro_ctx,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    ns_call(
        ctx,
        || {
            Ok(NsCall {
                method: "ping",
                args: vec![],
                kwargs: vec![],
            })
        },
        on_result,
        on_error,
        user_data,
    )
}

/// Number of registrations (`on_result` gets an int).
#[no_mangle]
pub extern "C" fn pyro_ns_count(
    ctx: *mut pyro_ctx,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    ns_call(
        ctx,
        || {
            Ok(NsCall {
                method: "count",
                args: vec![],
                kwargs: vec![],
            })
        },
        on_result,
        on_error,
        user_data,
    )
}
