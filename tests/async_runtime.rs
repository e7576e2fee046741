//! The runtime against the real Pyro4 test server, from Rust (the C tests cover the ABI).

mod common;

use common::{run_until, TestServer};
use pyro_async::runtime::{CallRequest, ContextOptions};
use pyro_async::{ErrorKind, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn req(method: &str, args: Vec<Value>) -> CallRequest {
    CallRequest::new(method, args, Vec::new())
}

#[test]
fn pipelined_calls_complete_in_order_once() {
    let server = TestServer::start(&[]);
    let ctx = common::new_context(ContextOptions::default());
    let p = ctx.proxy(&server.uri("test.session")).unwrap();
    let done = Arc::new(Mutex::new(Vec::new()));
    for i in 0..200 {
        let d = done.clone();
        p.call(
            req("record", vec![Value::Int(i)]),
            Box::new(move |o| d.lock().unwrap().push((i as u64, o))),
        )
        .unwrap();
    }
    run_until(&ctx, &done, 200, 30);
    let got = done.lock().unwrap();
    for (i, (tag, o)) in got.iter().enumerate() {
        assert_eq!(*tag, i as u64, "callbacks run in completion order");
        assert_eq!(o.as_ref().unwrap().value, Value::Int(i as i64));
    }
}

#[test]
fn remote_error_refused_connection_and_cancel() {
    let server = TestServer::start(&[]);
    let ctx = common::new_context(ContextOptions::default());
    let p = ctx.proxy(&server.uri("test.echo")).unwrap();
    let done = Arc::new(Mutex::new(Vec::new()));
    let d = done.clone();
    p.call(
        req("boom", vec![]),
        Box::new(move |o| d.lock().unwrap().push((1, o))),
    )
    .unwrap();
    run_until(&ctx, &done, 1, 10);
    {
        let g = done.lock().unwrap();
        let e = g[0].1.as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Remote);
        assert_eq!(
            e.remote.as_ref().unwrap().type_name,
            "builtins.ZeroDivisionError"
        );
    }
    let dead = ctx.proxy("PYRO:x@127.0.0.1:1").unwrap();
    let d = done.clone();
    dead.call(
        req("echo", vec![]),
        Box::new(move |o| d.lock().unwrap().push((2, o))),
    )
    .unwrap();
    run_until(&ctx, &done, 2, 10);
    assert_eq!(
        done.lock().unwrap()[1].1.as_ref().unwrap_err().kind,
        ErrorKind::Communication
    );

    let d = done.clone();
    let id = p
        .call(
            req("slow", vec![Value::Float(5.0)]),
            Box::new(move |o| d.lock().unwrap().push((3, o))),
        )
        .unwrap();
    let t = Instant::now();
    assert!(ctx.cancel(id));
    run_until(&ctx, &done, 3, 2);
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(
        done.lock().unwrap()[2].1.as_ref().unwrap_err().kind,
        ErrorKind::Cancelled
    );
    // a later call on the same connection is not confused by the cancelled call's reply
    let d = done.clone();
    p.call(
        req("echo", vec![Value::str("after")]),
        Box::new(move |o| d.lock().unwrap().push((4, o))),
    )
    .unwrap();
    run_until(&ctx, &done, 4, 15);
    assert_eq!(
        done.lock().unwrap()[3].1.as_ref().unwrap().value,
        Value::str("after")
    );
}
