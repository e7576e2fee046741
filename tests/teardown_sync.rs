//! `Proxy::call_sync` and `Context::close` from inside a callback, against the real
//! Pyro4 test server (ffi-tests/test_call_sync.c and test_teardown.c cover the C ABI).

mod common;

use common::TestServer;
use pyro_async::runtime::{CallRequest, ContextOptions, Outcome};
use pyro_async::{ErrorKind, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn req(method: &str, args: Vec<Value>) -> CallRequest {
    CallRequest::new(method, args, Vec::new())
}

#[test]
fn call_sync_returns_results_errors_and_timeouts() {
    let server = TestServer::start(&["--servertype", "thread"]);
    let ctx = common::new_context(ContextOptions::default());
    let p = ctx.proxy(&server.uri("test.echo")).unwrap();
    let reply = p
        .call_sync(req("echo", vec![Value::Str("sync".into())]), None)
        .unwrap();
    assert_eq!(reply.value, Value::Str("sync".into()));
    let e = p.call_sync(req("boom", vec![]), None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Remote);
    let t0 = Instant::now();
    let e = p
        .call_sync(
            req("slow", vec![Value::Int(3)]),
            Some(Duration::from_millis(200)),
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(t0.elapsed() < Duration::from_secs(2));
    // Other calls' callbacks run during the wait, on this thread.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let here = std::thread::current().id();
    p.call(
        req("echo", vec![Value::Int(1)]),
        Box::new(move |o: Outcome| {
            s.lock()
                .unwrap()
                .push((std::thread::current().id(), o.is_ok()))
        }),
    )
    .unwrap();
    let q = ctx.proxy(&server.uri("test.echo")).unwrap();
    q.call_sync(req("slow", vec![Value::Float(0.3)]), None)
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![(here, true)]);
}

#[test]
fn call_sync_inside_a_callback_of_its_context_is_refused() {
    let server = TestServer::start(&[]);
    let ctx = common::new_context(ContextOptions::default());
    let p = ctx.proxy(&server.uri("test.echo")).unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let (g, inner) = (got.clone(), p.clone());
    p.call(
        req("echo", vec![Value::Int(1)]),
        Box::new(move |_| {
            g.lock()
                .unwrap()
                .push(inner.call_sync(req("echo", vec![Value::Int(2)]), None));
        }),
    )
    .unwrap();
    common::run_until(&ctx, &got, 1, 10);
    let e = got.lock().unwrap().pop().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert!(e.message.contains("inside a callback"), "{}", e.message);
}

#[test]
fn close_inside_a_callback_is_deferred_to_the_end_of_the_round() {
    let server = TestServer::start(&["--servertype", "thread"]);
    let ctx = Arc::new(common::new_context(ContextOptions::default()));
    let fast = ctx.proxy(&server.uri("test.echo")).unwrap();
    let slow = ctx.proxy(&server.uri("test.echo")).unwrap();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = log.clone();
    slow.call(
        req("slow", vec![Value::Int(5)]),
        Box::new(move |o| {
            let kind = o.unwrap_err().kind;
            l.lock().unwrap().push(format!("slow {kind:?}"));
        }),
    )
    .unwrap();
    let (l, c, f) = (log.clone(), ctx.clone(), fast.clone());
    fast.call(
        req("echo", vec![Value::Int(1)]),
        Box::new(move |_| {
            c.close().unwrap();
            let refused = f.call(req("echo", vec![]), Box::new(|_| {})).is_err();
            l.lock()
                .unwrap()
                .push(format!("closed, new call refused: {refused}"));
        }),
    )
    .unwrap();
    let t0 = Instant::now();
    while log.lock().unwrap().is_empty() && t0.elapsed() < Duration::from_secs(10) {
        common::wait_fd(&ctx, 50);
        ctx.dispatch(0);
    }
    // The dispatch that ran the closing callback ran the teardown too.
    assert_eq!(
        *log.lock().unwrap(),
        vec!["closed, new call refused: true", "slow Cancelled"]
    );
    assert!(ctx.is_closed());
    assert_eq!(ctx.dispatch(0), 0);
}
