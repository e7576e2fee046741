//! Item streaming: a remote generator's items fetched with `get_next_stream_item` on the
//! daemon object, over the proxy's own connection, a bounded number ahead of dispatch
//! (back-pressure: the next item is requested only as items are delivered).
//!
//! All callbacks run inside dispatch; the stream ends exactly once: `end` after the
//! last item, or `error` (including CANCELLED).

use super::context::{CallId, CallRequest, Outcome, Proxy, ProxyId, Shared};
use super::reactor::Command;
use crate::client::wire;
use crate::error::{Error, ErrorKind};
use crate::protocol::FLAGS_ONEWAY;
use crate::value::Value;
use std::sync::{Arc, Mutex};

/// Items requested ahead of delivery.
pub(crate) const FETCH_AHEAD: usize = 4;
/// The daemon's own object id, where stream items are fetched.
pub const DAEMON_OBJECT: &str = "Pyro.Daemon";

pub struct StreamHandler {
    pub on_item: Box<dyn FnMut(Value) + Send>,
    pub on_end: Box<dyn FnOnce() + Send>,
    pub on_error: Box<dyn FnOnce(Error) + Send>,
}

pub(crate) struct StreamState {
    handler: Option<StreamHandler>,
    stream_id: Option<String>,
    /// get_next calls in flight.
    pending: Vec<CallId>,
    proxy: Proxy,
    /// The id the stream is registered under for cancel (0 until known).
    pub(crate) key: CallId,
}

pub(crate) type SharedStream = Arc<Mutex<StreamState>>;

impl StreamState {
    pub(crate) fn new(proxy: Proxy, handler: StreamHandler) -> SharedStream {
        Arc::new(Mutex::new(StreamState {
            handler: Some(handler),
            stream_id: None,
            pending: Vec::new(),
            proxy,
            key: 0,
        }))
    }
}

fn daemon_call(method: &str, stream_id: &str, flags: u16) -> CallRequest {
    let mut req = CallRequest::new(method, vec![Value::str(stream_id)], vec![]);
    req.object = Some(DAEMON_OBJECT.into());
    req.flags = flags;
    req
}

/// The oneway request that has the daemon drop a stream.
pub(crate) fn close_request(stream_id: &str) -> CallRequest {
    daemon_call("close_stream", stream_id, FLAGS_ONEWAY)
}

/// A reply that is an item stream, to a call that is not a stream's: that call cannot
/// read the items, so it fails, naming the function that can, and the server is told to
/// drop the stream now rather than hold it until the connection closes (and
/// ITER_STREAM_LINGER after). Every other outcome passes through unchanged.
pub(crate) fn refuse_unread_stream(
    shared: &Shared,
    call: CallId,
    proxy: ProxyId,
    outcome: Outcome,
) -> Outcome {
    let Some(stream_id) = outcome
        .as_ref()
        .ok()
        .and_then(|r| wire::stream_id(&r.value))
    else {
        return outcome;
    };
    // A stream cancelled before its first reply is no longer registered: its server side
    // is closed here too.
    if shared.is_stream(call) {
        return outcome;
    }
    shared.reactor.send(Command::CloseStream {
        proxy,
        stream_id: stream_id.to_string(),
    });
    Err(Error::new(
        ErrorKind::InvalidArgument,
        "the method returned an iterator (a Pyro4 item stream), which a plain call cannot \
         receive: call it with pyro_call_stream (Rust: Proxy::call_stream) to get its items \
         (the server is told to close this one)",
    ))
}

/// Finish the stream with `f` (end or error), once.
fn finish(s: &SharedStream, f: impl FnOnce(StreamHandler)) {
    let (handler, proxy, key) = {
        let mut st = s.lock().unwrap();
        (st.handler.take(), st.proxy.clone(), st.key)
    };
    proxy.shared.unregister_stream(key);
    if let Some(h) = handler {
        f(h);
    }
}

/// The first call's outcome: a stream marker starts fetching.
pub(crate) fn on_first_reply(s: &SharedStream, outcome: Outcome) {
    match outcome {
        Ok(reply) => match wire::stream_id(&reply.value) {
            Some(id) => {
                s.lock().unwrap().stream_id = Some(id.to_string());
                for _ in 0..FETCH_AHEAD {
                    request_next(s);
                }
            }
            None => finish(s, |h| {
                (h.on_error)(Error::new(
                    ErrorKind::Protocol,
                    "the method did not return a stream (the server may have ITER_STREAMING disabled, \
                     or the method returns a plain value)",
                ))
            }),
        },
        Err(e) => finish(s, |h| (h.on_error)(e)),
    }
}

fn request_next(s: &SharedStream) {
    let (proxy, id) = {
        let st = s.lock().unwrap();
        if st.handler.is_none() {
            return;
        }
        (st.proxy.clone(), st.stream_id.clone().expect("started"))
    };
    let s2 = s.clone();
    let cb = Box::new(move |o: Outcome| on_next(&s2, o));
    match proxy.call(daemon_call("get_next_stream_item", &id, 0), cb) {
        Ok(call) => s.lock().unwrap().pending.push(call),
        Err(e) => finish(s, |h| (h.on_error)(e)),
    }
}

fn is_end(e: &Error) -> bool {
    e.remote.as_ref().is_some_and(|r| {
        r.type_name.ends_with("StopIteration") || r.type_name.ends_with("GeneratorExit")
    })
}

fn on_next(s: &SharedStream, outcome: Outcome) {
    match outcome {
        Ok(reply) => {
            let mut st = s.lock().unwrap();
            let Some(h) = st.handler.as_mut() else { return };
            // Deliver without holding the lock would be nicer, but the item callback may
            // not touch this stream except through cancel, which only takes the lock after.
            let mut on_item = std::mem::replace(&mut h.on_item, Box::new(|_| {}));
            drop(st);
            on_item(reply.value);
            let mut st = s.lock().unwrap();
            if let Some(h) = st.handler.as_mut() {
                h.on_item = on_item;
                drop(st);
                request_next(s);
            }
        }
        Err(e) if is_end(&e) => finish(s, |h| (h.on_end)()),
        Err(e) => finish(s, |h| (h.on_error)(e)),
    }
}

/// Stop the stream: close it on the server, drop fetches in flight, report CANCELLED.
/// Returns false if it had already ended.
pub(crate) fn cancel(s: &SharedStream, post: impl FnOnce(Box<dyn FnOnce() + Send>)) -> bool {
    let (handler, proxy, id, pending) = {
        let mut st = s.lock().unwrap();
        let Some(h) = st.handler.take() else {
            return false;
        };
        (
            h,
            st.proxy.clone(),
            st.stream_id.clone(),
            std::mem::take(&mut st.pending),
        )
    };
    for call in pending {
        proxy.shared.cancel_silently(call);
    }
    if let Some(id) = id {
        let _ = proxy.call(close_request(&id), Box::new(|_| {}));
    }
    post(Box::new(move || (handler.on_error)(Error::cancelled())));
    true
}
