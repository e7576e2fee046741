//! C ABI: the rest of the call surface: oneway calls, daemon ping, bind/release,
//! remote attributes, batches.

use crate::error::{Error, ErrorKind};
use crate::ffi::boundary::{arg_mut, checked, guard, proxy_arg};
use crate::ffi::ctx::{
    build_request, cstr, deliver, pyro_call_id, pyro_error_cb, pyro_proxy, pyro_result_cb, UserData,
};
use crate::ffi::value::take;
use crate::protocol::{FLAGS_BATCH, FLAGS_ONEWAY};
use crate::runtime::{CallKind, CallRequest, Outcome, Proxy, Reply};
use crate::value::Value;
use std::ffi::{c_char, c_void};

fn submit(
    p: &Proxy,
    req: CallRequest,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    ud: *mut c_void,
) -> Result<pyro_call_id, Error> {
    let ud = UserData(ud);
    p.call(
        req,
        Box::new(move |o: Outcome| deliver(o, on_result, on_error, ud)),
    )
}

/// Call `method` without waiting for a reply (FLAGS_ONEWAY), whatever the server's
/// metadata says. `on_result` gets None once the request is written. Arguments and
/// callbacks as `pyro_call_async` (methods the server marks `@oneway` are sent this way
/// by `pyro_call_async` too).
#[no_mangle]
pub extern "C" fn pyro_call_oneway(
    proxy: *mut pyro_proxy,
    method: *const c_char,
    args: *mut Value,
    kwargs: *mut Value,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    checked(0, || {
        let (args, kwargs) = (take(args), take(kwargs));
        let p = proxy_arg(proxy)?;
        let mut req = build_request(cstr(method, "method")?, args, kwargs)?;
        req.flags |= FLAGS_ONEWAY;
        submit(p, req, on_result, on_error, user_data)
    })
}

/// Ping the proxy's daemon (Pyro4's MSG_PING; connects first if needed). `on_result`
/// gets None when the daemon answers.
#[no_mangle]
pub extern "C" fn pyro_proxy_ping(
    proxy: *mut pyro_proxy,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    checked(0, || {
        let p = proxy_arg(proxy)?;
        let mut req = CallRequest::new("<ping>", vec![], vec![]);
        req.kind = CallKind::Ping;
        submit(p, req, on_result, on_error, user_data)
    })
}

/// Connect (and handshake) now instead of at the first call. Returns false for NULL.
/// Progress is visible through the state callback; failures surface on the next call.
#[no_mangle]
pub extern "C" fn pyro_proxy_bind(proxy: *mut pyro_proxy) -> bool {
    checked(false, || {
        proxy_arg(proxy)?.bind();
        Ok(true)
    })
}

/// Close the proxy's connection; the next call connects again. Calls in flight on it
/// complete with PYRO_ERR_COMMUNICATION. Returns false for NULL.
#[no_mangle]
pub extern "C" fn pyro_proxy_release(proxy: *mut pyro_proxy) -> bool {
    checked(false, || {
        proxy_arg(proxy)?.release();
        Ok(true)
    })
}

/// Read a remote attribute (Pyro4's `__getattr__`); `on_result` gets its value.
#[no_mangle]
pub extern "C" fn pyro_get_attr(
    proxy: *mut pyro_proxy,
    name: *const c_char,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    checked(0, || {
        let p = proxy_arg(proxy)?;
        let name = cstr(name, "name")?;
        submit(
            p,
            CallRequest::new("__getattr__", vec![Value::str(name)], vec![]),
            on_result,
            on_error,
            user_data,
        )
    })
}

/// Set a remote attribute (Pyro4's `__setattr__`) to `value` (consumed); `on_result`
/// gets None.
#[no_mangle]
pub extern "C" fn pyro_set_attr(
    proxy: *mut pyro_proxy,
    name: *const c_char,
    value: *mut Value,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    checked(0, || {
        let value = take(value);
        let p = proxy_arg(proxy)?;
        let name = cstr(name, "name")?;
        let value = value.ok_or_else(|| crate::ffi::boundary::null("value"))?;
        submit(
            p,
            CallRequest::new("__setattr__", vec![Value::str(name), value], vec![]),
            on_result,
            on_error,
            user_data,
        )
    })
}

struct BatchEntry {
    method: String,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: UserData,
}

/// Several calls sent as one message (Pyro4's batch). Create with `pyro_batch_new`, add
/// calls, then `pyro_batch_send` (which frees it) or `pyro_batch_free`.
pub struct pyro_batch {
    proxy: Proxy,
    entries: Vec<BatchEntry>,
}

/// A new, empty batch for `proxy` (borrowed; the batch keeps what it needs). Caller owns
/// the batch; `pyro_batch_send` or `pyro_batch_free` frees it. NULL for a NULL proxy.
#[no_mangle]
pub extern "C" fn pyro_batch_new(proxy: *mut pyro_proxy) -> *mut pyro_batch {
    checked(std::ptr::null_mut(), || {
        Ok(Box::into_raw(Box::new(pyro_batch {
            proxy: proxy_arg(proxy)?.clone(),
            entries: Vec::new(),
        })))
    })
}

/// Add a call to the batch. `args`/`kwargs` are consumed as in `pyro_call_async`. Its
/// callbacks run, in order with the others, when the batch's reply arrives. False (and
/// nothing added) on bad arguments.
#[no_mangle]
pub extern "C" fn pyro_batch_add(
    batch: *mut pyro_batch,
    method: *const c_char,
    args: *mut Value,
    kwargs: *mut Value,
    on_result: pyro_result_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> bool {
    checked(false, || {
        let (args, kwargs) = (take(args), take(kwargs));
        let b = arg_mut(batch, "batch")?;
        let req = build_request(cstr(method, "method")?, args, kwargs)?;
        b.entries.push(BatchEntry {
            method: req.method,
            args: req.args,
            kwargs: req.kwargs,
            on_result,
            on_error,
            user_data: UserData(user_data),
        });
        Ok(true)
    })
}

/// Free a batch that was not sent (its calls never call back). NULL is ignored.
#[no_mangle]
pub extern "C" fn pyro_batch_free(batch: *mut pyro_batch) {
    guard((), || {
        if !batch.is_null() {
            drop(unsafe { Box::from_raw(batch) });
        }
    })
}

fn deliver_batch(entries: Vec<BatchEntry>, outcome: Outcome, oneway: bool) {
    let results = match outcome {
        Err(e) => {
            for en in entries {
                deliver(Err(e.clone()), en.on_result, en.on_error, en.user_data);
            }
            return;
        }
        Ok(reply) => reply.value,
    };
    let items: Vec<Value> = match results {
        Value::List(v) | Value::Tuple(v) => v,
        _ if oneway => Vec::new(),
        other => {
            let e = Error::protocol(format!("batch reply is not a list: {}", other.repr()));
            for en in entries {
                deliver(Err(e.clone()), en.on_result, en.on_error, en.user_data);
            }
            return;
        }
    };
    let mut items = items.into_iter();
    let mut failed = false;
    for en in entries {
        let outcome = if oneway {
            Ok(Reply::value(Value::None))
        } else if failed {
            Err(Error::new(
                ErrorKind::Cancelled,
                "not run: an earlier call in the batch failed",
            ))
        } else {
            match items.next() {
                // Pyro4 ends the batch at the first failure and wraps that exception.
                Some(Value::Object(o)) if o.class == "Pyro4.futures._ExceptionWrapper" => {
                    failed = true;
                    let ex = o
                        .state
                        .dict_get_str("exception")
                        .cloned()
                        .unwrap_or(Value::None);
                    Err(
                        match crate::client::remote_error::remote_error_from_value(&ex) {
                            Some(r) => Error::remote(r),
                            None => Error::new(
                                ErrorKind::Remote,
                                format!("batch call failed: {}", ex.repr()),
                            ),
                        },
                    )
                }
                Some(v) => Ok(Reply::value(v)),
                None => {
                    failed = true;
                    Err(Error::new(
                        ErrorKind::Cancelled,
                        "not run: an earlier call in the batch failed",
                    ))
                }
            }
        };
        deliver(outcome, en.on_result, en.on_error, en.user_data);
    }
}

/// Send the batch as one message and free it. With `oneway`, no reply is awaited and
/// each call's `on_result` gets None once the batch is written. Otherwise each call gets
/// its own result in order; at the first remote failure the batch stops (as in Pyro4):
/// that call gets PYRO_ERR_REMOTE and the calls after it PYRO_ERR_CANCELLED. Every added
/// call gets exactly one callback. Returns the batch's call id (cancel cancels them all),
/// or 0 if refused (NULL or empty batch, closed context), in which case nothing calls
/// back; the batch is freed all the same.
#[no_mangle]
pub extern "C" fn pyro_batch_send(batch: *mut pyro_batch, oneway: bool) -> pyro_call_id {
    checked(0, || {
        if batch.is_null() {
            return Err(crate::ffi::boundary::null("batch"));
        }
        let b = *unsafe { Box::from_raw(batch) };
        if b.entries.is_empty() {
            return Err(Error::invalid("batch has no calls"));
        }
        let calls: Vec<Value> = b
            .entries
            .iter()
            .map(|e| {
                let kw = Value::Dict(
                    e.kwargs
                        .iter()
                        .map(|(k, v)| (Value::str(k.as_str()), v.clone()))
                        .collect(),
                );
                Value::Tuple(vec![
                    Value::str(e.method.as_str()),
                    Value::Tuple(e.args.clone()),
                    kw,
                ])
            })
            .collect();
        let mut req = CallRequest::new("<batch>", calls, vec![]);
        req.flags = FLAGS_BATCH | if oneway { FLAGS_ONEWAY } else { 0 };
        let entries = b.entries;
        b.proxy.call(
            req,
            Box::new(move |o: Outcome| deliver_batch(entries, o, oneway)),
        )
    })
}

/// Called when a stream has delivered its last item.
pub type pyro_end_cb = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Call a method that returns an iterator (a Python generator) and receive its items one
/// by one (Pyro4 item streaming; the server needs ITER_STREAMING, the default). Each item
/// goes to `on_item` (borrowed value, valid during the callback), then exactly one of
/// `on_end` (after the last item) or `on_error` runs. Items are fetched a few at a time
/// ahead of dispatch (back-pressure), over the proxy's connection. `pyro_call_cancel` with
/// the returned id stops the stream, closes it on the server and reports
/// PYRO_ERR_CANCELLED. Returns 0 if refused (as `pyro_call_async`). A plain call of such
/// a method (`pyro_call_async`) gets no items: it fails with PYRO_ERR_INVALID_ARGUMENT,
/// whose message names this function, and the stream is closed on the server.
#[no_mangle]
pub extern "C" fn pyro_call_stream(
    proxy: *mut pyro_proxy,
    method: *const c_char,
    args: *mut Value,
    kwargs: *mut Value,
    on_item: pyro_result_cb,
    on_end: pyro_end_cb,
    on_error: pyro_error_cb,
    user_data: *mut c_void,
) -> pyro_call_id {
    checked(0, || {
        let (args, kwargs) = (take(args), take(kwargs));
        let p = proxy_arg(proxy)?;
        let req = build_request(cstr(method, "method")?, args, kwargs)?;
        let ud = std::sync::Arc::new(UserData(user_data));
        let (u1, u2, u3) = (ud.clone(), ud.clone(), ud);
        let handler = crate::runtime::stream::StreamHandler {
            on_item: Box::new(move |mut v| {
                if let Some(f) = on_item {
                    crate::ffi::value::terminate_strings(&mut v);
                    unsafe { f(&v as *const Value, u1.0) };
                }
            }),
            on_end: Box::new(move || {
                if let Some(f) = on_end {
                    unsafe { f(u2.0) };
                }
            }),
            on_error: Box::new(move |e| {
                if let Some(f) = on_error {
                    let err = crate::ffi::error::pyro_error::from_error(e);
                    unsafe { f(&err, u3.0) };
                }
            }),
        };
        p.call_stream(req, handler)
    })
}
