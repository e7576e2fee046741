//! C ABI: message options (HMAC, compression, annotations, handshake) and what the
//! server returns besides values (handshake reply, metadata, response annotations).

use crate::error::Error;
use crate::ffi::boundary::{arg, checked, checked_out, ctx_arg, guard, null, proxy_arg as proxy};
use crate::ffi::ctx::pyro_proxy;
use crate::ffi::value::{boxed, take};
use crate::protocol::Annotations;
use crate::runtime::Proxy;
use crate::value::Value;
use std::cell::Cell;
use std::ffi::{c_char, CStr};

fn bytes<'a>(p: *const u8, len: usize) -> Option<&'a [u8]> {
    if p.is_null() {
        return None;
    }
    Some(if len == 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(p, len) }
    })
}

/// Set the proxy's HMAC key (Pyro4's `_pyroHmacKey`; copied). Every request is signed
/// and every reply must carry a valid HMAC, else the call fails with PYRO_ERR_SECURITY
/// and the connection is closed. `key` NULL removes it. Takes effect for new requests and
/// the next connection (`pyro_proxy_release` to reconnect now). False for NULL proxy.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_hmac_key(p: *mut pyro_proxy, key: *const u8, len: usize) -> bool {
    checked(false, || {
        let p = proxy(p)?;
        let key = bytes(key, len).map(<[u8]>::to_vec);
        p.update_wire(|w| w.hmac_key = key);
        Ok(true)
    })
}

/// Compress request data with zlib (when 200 bytes or more and it helps), as Pyro4's
/// COMPRESSION does. Compressed replies are always accepted.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_compression(p: *mut pyro_proxy, on: bool) -> bool {
    checked(false, || {
        proxy(p)?.update_wire(|w| w.compress = on);
        Ok(true)
    })
}

fn set_annotation(anns: &mut Annotations, key: [u8; 4], value: Option<Vec<u8>>) {
    anns.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        anns.push((key, v));
    }
}

/// Send an annotation with every later request of this proxy: `key` is 4 ASCII
/// characters (e.g. "CORR"), `data` is copied (`len` bytes, at most 65535); `data` NULL
/// removes the annotation. Requests capture the annotations when they are made, so
/// setting one before a call makes it per call. False on a bad key or length.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_annotation(
    p: *mut pyro_proxy,
    key: *const c_char,
    data: *const u8,
    len: usize,
) -> bool {
    checked(false, || {
        let p = proxy(p)?;
        if key.is_null() {
            return Err(null("key"));
        }
        if len > 65535 {
            return Err(Error::invalid(format!("len is {len}, more than 65535")));
        }
        let k = unsafe { CStr::from_ptr(key) }.to_bytes();
        let shown = String::from_utf8_lossy(k);
        let k = <[u8; 4]>::try_from(k)
            .ok()
            .filter(|k| k.iter().all(u8::is_ascii_graphic))
            .ok_or_else(|| {
                Error::invalid(format!("key {shown:?} is not 4 printable ASCII characters"))
            })?;
        if &k == b"HMAC" {
            return Err(Error::invalid(
                "key \"HMAC\" is the message signature's (pyro_proxy_set_hmac_key)",
            ));
        }
        let value = bytes(data, len).map(<[u8]>::to_vec);
        p.update_wire(|w| set_annotation(&mut w.annotations, k, value));
        Ok(true)
    })
}

/// Set the 16-byte correlation id ("CORR" annotation) sent with later requests, as Pyro4's
/// `current_context.correlation_id`; NULL removes it. The server echoes it in replies.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_correlation_id(p: *mut pyro_proxy, id: *const u8) -> bool {
    checked(false, || {
        let p = proxy(p)?;
        let value = bytes(id, 16).map(<[u8]>::to_vec);
        p.update_wire(|w| set_annotation(&mut w.annotations, *b"CORR", value));
        Ok(true)
    })
}

/// Data sent with the connect handshake (Pyro4's `_pyroHandshake`, default "hello"),
/// consumed; used from the next connection. The server's reply is read with
/// `pyro_proxy_handshake_reply`.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_handshake(p: *mut pyro_proxy, data: *mut Value) -> bool {
    checked(false, || {
        let data = take(data);
        let p = proxy(p)?;
        let data = data.ok_or_else(|| null("data"))?;
        p.update_wire(|w| w.handshake = data);
        Ok(true)
    })
}

/// The server's reply to the last handshake. Caller owns it; free with
/// `pyro_value_free`. NULL before the proxy first connected.
#[no_mangle]
pub extern "C" fn pyro_proxy_handshake_reply(p: *mut pyro_proxy) -> *mut Value {
    checked(std::ptr::null_mut(), || {
        Ok(boxed(connect_info(p)?.handshake))
    })
}

/// The object's metadata from the last handshake: a dict
/// `{'methods': [...], 'oneway': [...], 'attrs': [...]}`. Caller owns it; free with
/// `pyro_value_free`. NULL before the proxy first connected.
#[no_mangle]
pub extern "C" fn pyro_proxy_metadata(p: *mut pyro_proxy) -> *mut Value {
    checked(std::ptr::null_mut(), || {
        let info = connect_info(p)?;
        let list = |l: Vec<String>| Value::List(l.into_iter().map(Value::Str).collect());
        Ok(boxed(Value::Dict(vec![
            (Value::str("methods"), list(info.methods)),
            (Value::str("oneway"), list(info.oneway)),
            (Value::str("attrs"), list(info.attrs)),
        ])))
    })
}

fn c_text(text: &str) -> *mut c_char {
    std::ffi::CString::new(text).map_or(std::ptr::null_mut(), std::ffi::CString::into_raw)
}

/// The URI the proxy was made with, unchanged (`pyro_proxy_new`'s text; the `PYRO:` URI
/// for `pyro_value_to_proxy`; "PYRONAME:Pyro.NameServer" for `pyro_ns_proxy_new`).
/// Caller owns the string; free with `pyro_string_free`. NULL for NULL.
#[no_mangle]
pub extern "C" fn pyro_proxy_uri(p: *const pyro_proxy) -> *mut c_char {
    checked(std::ptr::null_mut(), || {
        let p = unsafe { p.as_ref() }.ok_or_else(|| null("p"))?;
        Ok(c_text(p.proxy.uri()))
    })
}

/// The `PYRO:` URI the proxy's calls go to, as `PYRO:obj@host:port` (`[host]` for IPv6,
/// `./u:path` for a unix socket). For a `PYRO:` proxy that is its own URI (scheme in
/// capitals) from the start. For a `PYRONAME:`/`PYROMETA:` proxy it is what the name
/// server last resolved the name to: NULL until the first call (or `pyro_proxy_bind`)
/// has resolved it, and NULL again after its connection failed, until the name is looked
/// up again (the object may have moved). Caller owns the string; free with
/// `pyro_string_free`. NULL for NULL.
#[no_mangle]
pub extern "C" fn pyro_proxy_resolved_uri(p: *const pyro_proxy) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        match unsafe { p.as_ref() }.and_then(|p| p.proxy.resolved_uri()) {
            Some(uri) => c_text(&uri),
            None => std::ptr::null_mut(),
        }
    })
}

fn connect_info(p: *mut pyro_proxy) -> Result<crate::client::wire::ConnectInfo, Error> {
    Proxy::connect_info(proxy(p)?).ok_or_else(|| Error::invalid("the proxy has not connected yet"))
}

thread_local! {
    static RESPONSE_ANNOTATIONS: Cell<*const Annotations> = const { Cell::new(std::ptr::null()) };
}

/// Make `anns` readable through `pyro_response_annotation` while `f` runs.
pub(crate) fn with_response_annotations(anns: &Annotations, f: impl FnOnce()) {
    let prev = RESPONSE_ANNOTATIONS.with(|c| c.replace(anns as *const Annotations));
    f();
    RESPONSE_ANNOTATIONS.with(|c| c.set(prev));
}

/// Inside a result callback only: the reply's annotation `key` (4 characters, e.g.
/// "CORR"), borrowed for the duration of the callback, length in `*len`. NULL if absent or
/// called outside a result callback.
#[no_mangle]
pub extern "C" fn pyro_response_annotation(key: *const c_char, len: *mut usize) -> *const u8 {
    checked(std::ptr::null(), || {
        if key.is_null() {
            return Err(null("key"));
        }
        let k = unsafe { CStr::from_ptr(key) }.to_bytes();
        let Some(anns) = response_annotations() else {
            return Err(Error::invalid(
                "pyro_response_annotation is called outside a result callback",
            ));
        };
        match anns.iter().find(|(ak, _)| ak.as_slice() == k) {
            Some((_, v)) => {
                if let Some(len) = unsafe { len.as_mut() } {
                    *len = v.len();
                }
                Ok(annotation_ptr(v))
            }
            None => Err(Error::invalid(format!(
                "the reply has no {:?} annotation",
                String::from_utf8_lossy(k)
            ))),
        }
    })
}

/// NULL means "absent" to the caller, so an empty value gets a non-NULL pointer too.
fn annotation_ptr(v: &[u8]) -> *const u8 {
    if v.is_empty() {
        std::ptr::NonNull::<u8>::dangling().as_ptr()
    } else {
        v.as_ptr()
    }
}

/// The reply's annotations, while a result callback runs on this thread.
fn response_annotations<'a>() -> Option<&'a Annotations> {
    let anns = RESPONSE_ANNOTATIONS.with(Cell::get);
    // SAFETY: set only while the callback that may call this runs, on this thread.
    unsafe { anns.as_ref() }
}

/// Inside a result callback only: how many annotations the reply carries (Pyro4's daemon
/// always sends "CORR"; a server adds its own through
/// `current_context.response_annotations`). 0 outside a result callback (a stream's
/// `on_item` included). Read them with `pyro_response_annotation_at`.
#[no_mangle]
pub extern "C" fn pyro_response_annotation_count() -> usize {
    guard(0, || response_annotations().map_or(0, Vec::len))
}

/// Inside a result callback only: the reply's annotation number `index` (0 to
/// `pyro_response_annotation_count() - 1`, in the order the reply carries them). Its
/// 4-character key is copied to `key` (room for 5 chars: the key and a NUL); `*data`
/// gets its bytes (borrowed for the duration of the callback; not NULL, also when empty)
/// and `*len` their length. Each out-parameter may be NULL. False, changing nothing, if
/// `index` is out of range or outside a result callback. Iterate with
/// `for (i = 0; pyro_response_annotation_at(i, key, &data, &len); i++)`.
#[no_mangle]
pub extern "C" fn pyro_response_annotation_at(
    index: usize,
    key: *mut c_char,
    data: *mut *const u8,
    len: *mut usize,
) -> bool {
    guard(false, || {
        let Some((k, v)) = response_annotations().and_then(|a| a.get(index)) else {
            return false;
        };
        if !key.is_null() {
            // SAFETY: the caller provides room for 5 chars.
            unsafe {
                std::ptr::copy_nonoverlapping(k.as_ptr().cast::<c_char>(), key, 4);
                *key.add(4) = 0;
            }
        }
        if let Some(data) = unsafe { data.as_mut() } {
            *data = annotation_ptr(v);
        }
        if let Some(len) = unsafe { len.as_mut() } {
            *len = v.len();
        }
        true
    })
}

/// Use TLS (Pyro4's SSL mode) for this proxy from its next connection: the server's
/// certificate must chain to a CA in `ca_file` (PEM) and match the host in the URI; with
/// `client_cert` and `client_key` (PEM, both or neither) the proxy also authenticates
/// itself. `ca_file` NULL switches TLS off. Files are read now: on error returns false and
/// stores a PYRO_ERR_SECURITY (or INVALID_ARGUMENT) error in `*error` if not NULL (caller
/// owns it; free with `pyro_error_free`). A server certificate that does not verify makes
/// calls fail with PYRO_ERR_SECURITY.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_tls(
    p: *mut pyro_proxy,
    ca_file: *const c_char,
    client_cert: *const c_char,
    client_key: *const c_char,
    error: *mut *mut crate::ffi::error::pyro_error,
) -> bool {
    use crate::ffi::ctx::cstr;
    checked_out(false, error, || {
        let result = (|| {
            let p = proxy(p)?;
            if ca_file.is_null() {
                p.set_tls(None);
                return Ok(());
            }
            let opt = |s: *const c_char, what| -> crate::error::Result<Option<String>> {
                if s.is_null() {
                    Ok(None)
                } else {
                    cstr(s, what).map(|s| Some(s.to_string()))
                }
            };
            let files = crate::client::tls::TlsFiles {
                ca_file: cstr(ca_file, "ca_file")?.to_string(),
                client_cert: opt(client_cert, "client_cert")?,
                client_key: opt(client_key, "client_key")?,
            };
            p.set_tls(Some(crate::client::tls::client_config(&files)?));
            Ok(())
        })();
        result.map(|()| true)
    })
}

/// A proxy for a Pyro4 proxy or URI value that a call returned (Pyro4's autoproxy:
/// a method returning a Pyro object gives a proxy), or for URI text. The new proxy uses
/// the context's defaults and the HMAC key carried in a proxy value. Caller owns it; free
/// with `pyro_proxy_free`. NULL if the value is not a proxy or URI.
#[no_mangle]
pub extern "C" fn pyro_value_to_proxy(
    ctx: *mut crate::ffi::ctx::pyro_ctx,
    v: *const Value,
) -> *mut pyro_proxy {
    checked(std::ptr::null_mut(), || {
        let c = ctx_arg(ctx)?;
        let (target, hmac) = crate::naming::resolve::proxy_target_from_value(arg(v, "v")?)?;
        let proxy = c.ctx.proxy(&target.display())?;
        if hmac.is_some() {
            proxy.update_wire(|w| w.hmac_key = hmac);
        }
        Ok(Box::into_raw(Box::new(pyro_proxy { proxy })))
    })
}

/// Serializer for this proxy's later calls (`pyro_serializer` value). The default comes
/// from `pyro_ctx_options.serializer` (serpent, or `PYRO_SERIALIZER`). A server that does
/// not accept it refuses the connection: calls fail with PYRO_ERR_COMMUNICATION naming
/// the serializer and the server's reason. False for NULL or an unknown serializer.
#[no_mangle]
pub extern "C" fn pyro_proxy_set_serializer(
    p: *mut pyro_proxy,
    serializer: std::ffi::c_int,
) -> bool {
    checked(false, || {
        let p = crate::ffi::boundary::arg_mut(p, "proxy")?;
        let s = u16::try_from(serializer)
            .ok()
            .and_then(crate::serial::SerializerId::from_u16)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "serializer is {serializer}, not a pyro_serializer value (1..4)"
                ))
            })?;
        p.proxy.set_serializer(s);
        Ok(true)
    })
}

/// Log levels for `pyro_ctx_set_log_callback`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pyro_log_level {
    PYRO_LOG_ERROR = 1,
    PYRO_LOG_WARNING = 2,
    PYRO_LOG_INFO = 3,
    PYRO_LOG_DEBUG = 4,
}

/// Receives a library message (borrowed, valid during the call).
pub type pyro_log_cb = Option<
    unsafe extern "C" fn(
        level: pyro_log_level,
        message: *const c_char,
        user_data: *mut std::ffi::c_void,
    ),
>;

/// Route the library's messages (connections failing, names not found, state changes)
/// at `max_level` and more severe to `cb` (NULL stops logging). Like every callback it is
/// called inside `pyro_ctx_dispatch`, on the dispatching thread, never from an internal
/// thread. Returns false for a NULL context. While a callback is set, the
/// `PYRO_LOGLEVEL`/`PYRO_LOGFILE` log (README, Configuration) stays silent.
#[no_mangle]
pub extern "C" fn pyro_ctx_set_log_callback(
    ctx: *mut crate::ffi::ctx::pyro_ctx,
    max_level: pyro_log_level,
    cb: pyro_log_cb,
    user_data: *mut std::ffi::c_void,
) -> bool {
    use crate::runtime::LogLevel;
    checked(false, || {
        let c = ctx_arg(ctx)?;
        let max = match max_level as i32 {
            1 => LogLevel::Error,
            2 => LogLevel::Warning,
            3 => LogLevel::Info,
            _ => LogLevel::Debug,
        };
        let ud = std::sync::Arc::new(crate::ffi::ctx::UserData(user_data));
        c.ctx.set_log_callback(
            max,
            cb.map(|f| {
                let cb: crate::runtime::LogCallback =
                    std::sync::Arc::new(move |level: LogLevel, msg: &str| {
                        let level = match level {
                            LogLevel::Error => pyro_log_level::PYRO_LOG_ERROR,
                            LogLevel::Warning => pyro_log_level::PYRO_LOG_WARNING,
                            LogLevel::Info => pyro_log_level::PYRO_LOG_INFO,
                            LogLevel::Debug => pyro_log_level::PYRO_LOG_DEBUG,
                        };
                        let text =
                            std::ffi::CString::new(msg.replace('\0', " ")).unwrap_or_default();
                        unsafe { f(level, text.as_ptr(), ud.0) };
                    });
                cb
            }),
        );
        Ok(true)
    })
}

/// The library version, e.g. "0.1.0" (static string; do not free). Matches the
/// PYRO_ASYNC_VERSION_* macros of the header it was built with.
#[no_mangle]
pub extern "C" fn pyro_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    guard(VERSION.as_ptr() as *const c_char, || {
        VERSION.as_ptr() as *const c_char
    })
}
