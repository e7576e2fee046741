//! Calls written by their submitting thread (the direct lane) and calls that go through
//! the I/O thread (oneway, deadlines, pings, calls from callbacks that are corked until
//! the round ends) share one connection, against the real Pyro4 server: the server sees
//! them in the order they were issued, each completes exactly once.

mod common;

use common::{wait_fd, NameServer, TestServer};
use pyro_async::protocol::FLAGS_ONEWAY;
use pyro_async::runtime::{CallKind, CallRequest, Context, ContextOptions, Outcome, Proxy};
use pyro_async::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Done = Arc<Mutex<Vec<(i64, Outcome)>>>;

/// Call `method(n)` with `flags`; its outcome lands in `done` tagged `n`.
fn call(p: &Proxy, done: &Done, method: &str, n: i64, flags: u16) {
    let d = done.clone();
    let mut req = CallRequest::new(method, vec![Value::Int(n)], vec![]);
    req.flags = flags;
    p.call(req, Box::new(move |o| d.lock().unwrap().push((n, o))))
        .unwrap();
}

fn record(p: &Proxy, done: &Done, n: i64, flags: u16) {
    call(p, done, "record", n, flags);
}

#[test]
fn mixed_paths_reach_the_server_in_issue_order() {
    let server = TestServer::start(&[]);
    let ctx = common::new_context(ContextOptions::default());
    mixed_paths(&ctx, &server.uri("test.session"));
}

/// The same through a PYRONAME proxy: once its name is resolved and connected, its calls
/// are encoded for the resolved object and take the direct lane too.
#[test]
fn named_proxy_calls_take_the_lane_in_issue_order() {
    let port = |_| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let ns_port = port(());
    let _ns = NameServer::start(ns_port);
    let ns = format!("127.0.0.1:{ns_port}");
    let _server = TestServer::start(&["--ns", &ns, "--ns-name", "lane.test"]);
    let mut opts = ContextOptions::default();
    opts.ns.host = "127.0.0.1".into();
    opts.ns.port = ns_port;
    opts.ns.discovery = None; // never broadcast
    let ctx = common::new_context(opts);
    mixed_paths(&ctx, "PYRONAME:lane.test.session");
}

fn mixed_paths(ctx: &Context, uri: &str) {
    let p = ctx.proxy(uri).unwrap();
    // A named proxy's server registers shortly after it starts: wait for the name.
    p.set_patience(Some(pyro_async::runtime::Patience {
        interval: Duration::from_millis(100),
        max_tries: 100,
    }));
    let done: Done = Default::default();
    // Connect first so that the lane is open for most of what follows.
    record(&p, &done, 0, 0);
    common::run_until(ctx, &done, 1, 30);
    assert!(p.direct_lane_open());
    let total = 400;
    let mut lane_seen_open = 0;
    for n in 1..total {
        lane_seen_open += p.direct_lane_open() as usize;
        match n % 6 {
            // explicit oneway: the I/O thread's path, completes when written
            1 => record(&p, &done, n, FLAGS_ONEWAY),
            // a deadline (the I/O thread keeps its timer)
            2 => {
                p.set_timeout(Some(Duration::from_secs(60)));
                record(&p, &done, n, 0);
                p.set_timeout(None);
            }
            // started inside a callback: corked, written when that dispatch round ends
            3 => {
                let (p2, d2) = (p.clone(), done.clone());
                assert!(ctx.post(Box::new(move || record(&p2, &d2, n, 0))));
                ctx.dispatch(0);
            }
            // a daemon ping in between (not recorded by the session object)
            4 => {
                let mut req = CallRequest::new("<ping>", vec![], vec![]);
                req.kind = CallKind::Ping;
                let d = done.clone();
                p.call(req, Box::new(move |o| d.lock().unwrap().push((-n, o))))
                    .unwrap();
            }
            _ => record(&p, &done, n, 0),
        }
        // Let replies come in now and then, so calls meet both an idle and a busy lane.
        if n % 17 == 0 {
            let so_far = done.lock().unwrap().len();
            common::run_until(ctx, &done, so_far + 1, 30);
        }
    }
    common::run_until(ctx, &done, total as usize, 30);
    let mut outcomes = done.lock().unwrap().clone();
    outcomes.sort_by_key(|(n, _)| n.abs());
    let tags: Vec<i64> = outcomes.iter().map(|(n, _)| n.abs()).collect();
    assert_eq!(
        tags,
        (0..total).collect::<Vec<_>>(),
        "every call completes exactly once"
    );
    for (n, o) in &outcomes {
        assert!(o.is_ok(), "call {n}: {:?}", o.as_ref().err());
    }
    assert!(
        lane_seen_open > 100,
        "the lane was open for only {lane_seen_open} calls"
    );

    // One at a time, nothing of the I/O thread's is ever outstanding: every one of these
    // is written by this thread (the oneway ones as well).
    let before = p.direct_calls();
    let more = 60;
    for n in total..total + more {
        let flags = if n % 3 == 0 { FLAGS_ONEWAY } else { 0 };
        // deadlines too: the lane hands them to the I/O thread's timers
        p.set_timeout((n % 2 == 0).then(|| Duration::from_secs(30)));
        record(&p, &done, n, flags);
        common::run_until(ctx, &done, (n + 1) as usize, 30);
    }
    p.set_timeout(None);
    assert_eq!(
        p.direct_calls() - before,
        more as u64,
        "idle-lane calls must all be written directly"
    );
    let total = total + more;

    let order: Done = Default::default();
    let d = order.clone();
    p.call(
        CallRequest::new("calls", vec![], vec![]),
        Box::new(move |o| d.lock().unwrap().push((0, o))),
    )
    .unwrap();
    common::run_until(ctx, &order, 1, 30);
    let got = order.lock().unwrap()[0].1.as_ref().unwrap().value.clone();
    // every call but the pings of the mixed part
    let want: Vec<Value> = (0..total)
        .filter(|n| *n >= total - more || n % 6 != 4)
        .map(Value::Int)
        .collect();
    assert_eq!(got, Value::List(want), "the server saw the issue order");
}

#[test]
fn a_callback_can_wait_in_a_nested_dispatch_for_a_call_it_started() {
    let server = TestServer::start(&[]);
    let ctx = Arc::new(common::new_context(ContextOptions::default()));
    let p = ctx.proxy(&server.uri("test.echo")).unwrap();
    let done: Done = Default::default();
    call(&p, &done, "echo", 1, 0);
    common::run_until(&ctx, &done, 1, 30);
    assert!(p.direct_lane_open());

    let inner: Done = Default::default();
    let (c2, p2, i2) = (ctx.clone(), p.clone(), inner.clone());
    let waited = Arc::new(Mutex::new(None));
    let w2 = waited.clone();
    ctx.post(Box::new(move || {
        call(&p2, &i2, "echo", 2, 0);
        // A host loop inside the callback: dispatch first (which sends corked
        // requests), then poll.
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            c2.dispatch(0);
            if !i2.lock().unwrap().is_empty() {
                break;
            }
            wait_fd(&c2, 5000);
        }
        *w2.lock().unwrap() = Some(t.elapsed());
    }));
    ctx.dispatch(0);
    let waited = waited.lock().unwrap().expect("the callback ran");
    let got = inner.lock().unwrap();
    assert_eq!(got.len(), 1, "the nested wait saw its reply");
    assert_eq!(got[0].1.as_ref().unwrap().value, Value::Int(2));
    // A request left corked would cost a whole 5 s poll timeout.
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
}

/// A proxy that may retry writes its calls on the lane too; when the connection is reset
/// under two of them, both are sent again on a fresh connection and succeed.
#[test]
fn retrying_proxy_calls_take_the_lane_and_are_retried() {
    use common::fake_peer::{FakePeer, Fault};
    let peer = FakePeer::start(vec![
        Fault::AfterEchoes(1, Box::new(Fault::Reset)),
        Fault::Echo,
    ]);
    let ctx = common::new_context(ContextOptions {
        max_retries: 1,
        ..ContextOptions::default()
    });
    let p = ctx.proxy(&peer.uri()).unwrap();
    let done: Done = Default::default();
    call(&p, &done, "echo", 1, 0);
    common::run_until(&ctx, &done, 1, 15);
    assert!(p.direct_lane_open(), "a retrying proxy's lane opens");
    let before = p.direct_calls();
    call(&p, &done, "echo", 2, 0);
    call(&p, &done, "echo", 3, 0);
    assert_eq!(p.direct_calls() - before, 2, "both written on the lane");
    common::run_until(&ctx, &done, 3, 15);
    let got: Vec<(i64, Value)> = done
        .lock()
        .unwrap()
        .iter()
        .map(|(n, o)| (*n, o.as_ref().expect("retried").value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![(1, Value::Int(1)), (2, Value::Int(2)), (3, Value::Int(3))]
    );
    assert_eq!(peer.connections(), 2, "sent again on a second connection");
}
