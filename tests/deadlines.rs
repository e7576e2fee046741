//! A deadline fails only its own call, against a real Pyro4 4.82 server whose calls
//! take different times: calls sent behind the one that timed out keep their own
//! deadlines and get their replies, a call started from the TIMEOUT callback goes out
//! at once over a fresh connection, and the late reply is dropped.

mod common;

use common::{run_until, TestServer};
use pyro_async::runtime::{CallRequest, ContextOptions, Outcome, Proxy};
use pyro_async::{ErrorKind, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Log = Arc<Mutex<Vec<(&'static str, Outcome)>>>;

fn slow(p: &Proxy, log: &Log, name: &'static str, secs: f64) {
    let log = log.clone();
    p.call(
        CallRequest::new("slow", vec![Value::Float(secs), Value::str(name)], vec![]),
        Box::new(move |o| log.lock().unwrap().push((name, o))),
    )
    .unwrap();
}

#[test]
fn a_deadline_fails_only_its_own_call() {
    let server = TestServer::start(&[]);
    let ctx = Arc::new(common::new_context(ContextOptions::default()));
    let p = Arc::new(ctx.proxy(&server.uri("test.echo")).unwrap());
    let log: Log = Default::default();
    // A takes 1 s against a 300 ms deadline; B, pipelined behind it on the same
    // connection (the server answers a connection's calls in order), takes 2 s more
    // with an 8 s deadline: C, started when A times out, has seconds to connect afresh
    // and complete before B, even on a loaded machine.
    p.set_timeout(Some(Duration::from_millis(300)));
    let a_log = log.clone();
    let p2 = p.clone();
    p.call(
        CallRequest::new("slow", vec![Value::Float(1.0), Value::str("a")], vec![]),
        Box::new(move |o| {
            let timed_out = matches!(&o, Err(e) if e.kind == ErrorKind::Timeout);
            a_log.lock().unwrap().push(("a", o));
            if timed_out {
                // Started from the TIMEOUT callback: must not fail or wait behind A.
                p2.set_timeout(Some(Duration::from_secs(5)));
                slow(&p2, &a_log, "c", 0.0);
            }
        }),
    )
    .unwrap();
    p.set_timeout(Some(Duration::from_secs(8)));
    slow(&p, &log, "b", 2.0);
    run_until(&ctx, &log, 3, 20);
    // A's late reply arrived (at 1 s, before B's): it must have been dropped.
    ctx.dispatch(0);
    let log = log.lock().unwrap();
    let names: Vec<&str> = log.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["a", "c", "b"],
        "exactly one outcome each, C before B"
    );
    assert_eq!(log[0].1.as_ref().unwrap_err().kind, ErrorKind::Timeout);
    assert_eq!(log[1].1.as_ref().unwrap().value, Value::str("c"));
    assert_eq!(log[2].1.as_ref().unwrap().value, Value::str("b"));
}
