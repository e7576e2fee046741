//! Replies read in dispatch (`Context::read_replies_in_dispatch`), against the real Pyro4
//! server and the scripted peer: what the host sees through the fd, and that the I/O
//! thread no longer reads the socket. The whole runtime suite also runs in this mode
//! (scripts/test.sh sets PYRO_TEST_READ_IN_DISPATCH=1 for a second pass).

mod common;

use common::fake_peer::{FakePeer, Fault};
use common::TestServer;
use pyro_async::runtime::{CallRequest, Context, ContextOptions, Outcome, Proxy};
use pyro_async::{ErrorKind, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Done = Arc<Mutex<Vec<Outcome>>>;

fn ctx() -> Context {
    let ctx = Context::new(ContextOptions::default()).unwrap();
    ctx.read_replies_in_dispatch().unwrap();
    ctx
}

/// Call `method(*args)`; its outcome lands in `done`.
fn call(p: &Proxy, done: &Done, method: &str, args: Vec<Value>) {
    let d = done.clone();
    p.call(
        CallRequest::new(method, args, vec![]),
        Box::new(move |o| d.lock().unwrap().push(o)),
    )
    .unwrap();
}

fn echo(p: &Proxy, done: &Done, v: i64) {
    call(p, done, "echo", vec![Value::Int(v)]);
}

/// A context reading in dispatch and a proxy for `uri` whose connection is up (the
/// handshake is the I/O thread's): `echo(1)` has completed, as the first outcome.
fn connected(uri: &str) -> (Context, Proxy, Done) {
    let ctx = ctx();
    let p = ctx.proxy(uri).unwrap();
    let done: Done = Default::default();
    echo(&p, &done, 1);
    common::run_until(&ctx, &done, 1, 15);
    (ctx, p, done)
}

/// The results so far, in completion order (every call must have succeeded).
fn values(done: &Done) -> Vec<Value> {
    done.lock()
        .unwrap()
        .iter()
        .map(|o| o.as_ref().unwrap().value.clone())
        .collect()
}

fn readable(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

/// Wait for the fd, then give the I/O thread time it would need to read the reply.
fn reply_waiting(ctx: &Context) {
    assert!(readable(ctx.fd(), 10_000), "no reply within 10 s");
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn replies_wait_in_the_socket_until_dispatch_reads_them() {
    let server = TestServer::start(&[]);
    let (ctx, p, done) = connected(&server.uri("test.echo"));
    assert!(!readable(ctx.fd(), 0), "idle: fd not readable");
    for round in 0..20 {
        echo(&p, &done, round);
        reply_waiting(&ctx);
        // Read by the I/O thread, it would be a queued completion by now.
        assert_eq!(
            ctx.pending_completions(),
            0,
            "round {round}: reply left unread"
        );
        assert_eq!(
            ctx.dispatch(0),
            1,
            "round {round}: dispatch reads and runs it"
        );
        assert!(
            !readable(ctx.fd(), 0),
            "round {round}: nothing left, fd quiet"
        );
    }
    let done = done.lock().unwrap();
    assert!(done.iter().all(|o| o.is_ok()));
    assert_eq!(done.last().unwrap().as_ref().unwrap().value, Value::Int(19));
}

#[test]
fn the_mode_is_chosen_before_the_fd_is_handed_out() {
    let plain = Context::new(ContextOptions::default()).unwrap();
    let eventfd = plain.fd();
    let e = plain.read_replies_in_dispatch().unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert_eq!(plain.fd(), eventfd, "a refused switch changes nothing");

    let ctx = ctx();
    ctx.read_replies_in_dispatch().unwrap(); // on already: fine
    let fd = ctx.fd();
    assert_eq!(ctx.fd(), fd);
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    assert_eq!(link.to_string_lossy(), "anon_inode:[eventpoll]");
}

#[test]
fn a_partial_reply_runs_nothing_and_leaves_the_fd_quiet() {
    let peer = FakePeer::start(vec![Fault::StallMidMessage]);
    let ctx = ctx();
    let p = ctx.proxy(&peer.uri()).unwrap();
    p.set_timeout(Some(Duration::from_millis(1500)));
    let done: Done = Default::default();
    echo(&p, &done, 1);
    // Half a header arrives: the fd turns readable, dispatch reads it and runs nothing.
    let t0 = Instant::now();
    let mut empty_rounds = 0;
    while done.lock().unwrap().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(10), "no outcome");
        if readable(ctx.fd(), 100) && ctx.dispatch(0) == 0 {
            empty_rounds += 1;
            assert!(
                !readable(ctx.fd(), 0),
                "after reading the partial reply the fd must be quiet"
            );
        }
    }
    assert!(empty_rounds >= 1, "the partial reply made the fd readable");
    assert!(
        empty_rounds < 5,
        "a partial reply must not keep the fd readable"
    );
    // The deadline (the I/O thread's timer) still ends the call.
    let e = done.lock().unwrap()[0].clone().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}");
}

#[test]
fn edge_triggered_host_sees_every_round_that_stops_at_max() {
    let server = TestServer::start(&[]);
    let (ctx, p, done) = connected(&server.uri("test.echo"));
    let ep = unsafe { libc::epoll_create1(0) };
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: 1,
    };
    assert_eq!(
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, ctx.fd(), &mut ev) },
        0
    );
    let wait = |ms| {
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
        unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 4, ms) }
    };
    while wait(0) > 0 {} // consume the edge of the first round
    for v in 1..=10 {
        echo(&p, &done, v);
    }
    // One callback per edge: every round that stops at max must raise a fresh edge.
    while done.lock().unwrap().len() < 11 {
        assert!(
            wait(10_000) > 0,
            "edge-triggered host starved with calls pending"
        );
        // Let all ten replies in so that one read takes several.
        std::thread::sleep(Duration::from_millis(20));
        ctx.dispatch(1);
    }
    unsafe { libc::close(ep) };
    assert_eq!(
        values(&done)[1..],
        (1..=10).map(Value::Int).collect::<Vec<_>>()
    );
}

/// A proxy that may retry is read in dispatch too, and its calls still get retried on a
/// fresh connection when the one they were on is reset.
#[test]
fn a_retrying_proxy_is_read_in_dispatch_and_still_retries() {
    let peer = FakePeer::start(vec![
        Fault::AfterEchoes(1, Box::new(Fault::Reset)),
        Fault::Echo,
    ]);
    let (ctx, p, done) = connected(&peer.uri());
    p.set_max_retries(1);
    // The next two reach the peer, which resets the connection under them.
    echo(&p, &done, 2);
    echo(&p, &done, 3);
    common::run_until(&ctx, &done, 3, 15);
    assert_eq!(peer.connections(), 2, "retried on a second connection");
    // And the second connection is read in dispatch as well.
    echo(&p, &done, 4);
    reply_waiting(&ctx);
    assert_eq!(ctx.pending_completions(), 0, "read in dispatch");
    common::run_until(&ctx, &done, 4, 15);
    assert_eq!(values(&done), (1..=4).map(Value::Int).collect::<Vec<_>>());
}

/// Calls completed without the I/O thread's knowledge (written on the direct lane, or
/// read in dispatch) do not leave their retry copies behind: on a long-lived connection
/// what is kept for sending calls again is exactly what is in flight. In both modes.
#[test]
fn retry_copies_of_completed_calls_are_dropped() {
    let server = TestServer::start(&[]);
    for here in [false, true] {
        let ctx = Context::new(ContextOptions::default()).unwrap();
        if here {
            ctx.read_replies_in_dispatch().unwrap();
        }
        let p = ctx.proxy(&server.uri("test.echo")).unwrap();
        p.set_max_retries(2);
        let done: Done = Default::default();
        let (rounds, per_round) = (30, 100);
        let mut most_in_flight = 0;
        for r in 0..rounds {
            for i in 0..per_round {
                echo(&p, &done, r * per_round + i);
            }
            most_in_flight = most_in_flight.max(p.resend_copies());
            common::run_until(&ctx, &done, ((r + 1) * per_round) as usize, 30);
        }
        assert!(
            most_in_flight > 0,
            "read in dispatch: {here}: no copies kept"
        );
        let records = p.resend_copies();
        assert!(
            records == 0,
            "read in dispatch: {here}: {records} retry copies for {} completed calls",
            rounds * per_round
        );
        assert!(p.direct_calls() > 0, "the lane was used");
    }
}

#[test]
fn server_gone_while_the_host_is_idle_fails_calls_once_and_reconnects() {
    let mut server = TestServer::start(&[]);
    let (ctx, p, done) = connected(&server.uri("test.echo"));
    call(&p, &done, "slow", vec![Value::Float(30.0)]);
    std::thread::sleep(Duration::from_millis(200));
    server.kill();
    // The FIN makes the fd readable; dispatch reads it and the I/O thread fails the call.
    common::run_until(&ctx, &done, 2, 15);
    let e = done.lock().unwrap()[1].clone().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Communication, "{e:?}");
    // Nothing more arrives and the fd calms down (no busy loop on a dead socket).
    std::thread::sleep(Duration::from_millis(100));
    ctx.dispatch(0);
    assert!(
        !readable(ctx.fd(), 200),
        "fd keeps firing after the failure"
    );
    assert_eq!(done.lock().unwrap().len(), 2);
    // A new server on another port: a fresh proxy works on the same context.
    let server = TestServer::start(&[]);
    let q = ctx.proxy(&server.uri("test.echo")).unwrap();
    echo(&q, &done, 3);
    common::run_until(&ctx, &done, 3, 15);
    assert!(done.lock().unwrap()[2].is_ok());
}

/// Two proxies: rounds read their sockets directly; four: rounds ask the set first.
#[test]
fn many_threads_submit_while_two_threads_dispatch() {
    for proxies in [2, 4] {
        threads_submit_and_dispatch(proxies);
    }
}

fn threads_submit_and_dispatch(nproxies: usize) {
    let server = TestServer::start(&[]);
    let ctx = Arc::new(ctx());
    let proxies: Vec<Proxy> = (0..nproxies)
        .map(|_| ctx.proxy(&server.uri("test.echo")).unwrap())
        .collect();
    let done: Done = Default::default();
    let per_thread = 500;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let dispatchers: Vec<_> = (0..2)
        .map(|_| {
            let (ctx, stop) = (ctx.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    readable(ctx.fd(), 20);
                    ctx.dispatch(7);
                }
            })
        })
        .collect();
    let submitters: Vec<_> = proxies
        .iter()
        .enumerate()
        .map(|(t, p)| {
            let (p, done) = (p.clone(), done.clone());
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    echo(&p, &done, (t * per_thread + i) as i64);
                }
            })
        })
        .collect();
    for s in submitters {
        s.join().unwrap();
    }
    let t0 = Instant::now();
    while done.lock().unwrap().len() < nproxies * per_thread {
        assert!(t0.elapsed() < Duration::from_secs(60), "calls lost");
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for d in dispatchers {
        d.join().unwrap();
    }
    let mut got: Vec<i64> = done
        .lock()
        .unwrap()
        .iter()
        .map(|o| match o.as_ref().unwrap().value {
            Value::Int(i) => i,
            ref v => panic!("{v:?}"),
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, (0..(nproxies * per_thread) as i64).collect::<Vec<_>>());
}

/// The server closes an idle connection while the host is not dispatching: the I/O
/// thread still sees the FIN at once (it watches for it), so the next call connects
/// afresh instead of being written to the dead connection and failing.
#[test]
fn a_connection_closed_while_idle_is_replaced_before_the_next_call() {
    let peer = FakePeer::start(vec![Fault::CloseWhenIdle(1), Fault::Echo]);
    let (ctx, p, done) = connected(&peer.uri());
    // No dispatch while the peer closes.
    let t0 = Instant::now();
    while peer.connections() < 1 || p.direct_lane_open() {
        assert!(t0.elapsed() < Duration::from_secs(10), "FIN not noticed");
        std::thread::sleep(Duration::from_millis(10));
    }
    echo(&p, &done, 2);
    common::run_until(&ctx, &done, 2, 15);
    let done = done.lock().unwrap();
    assert_eq!(
        done[1].as_ref().unwrap().value,
        Value::Int(2),
        "{:?}",
        done[1]
    );
    assert_eq!(peer.connections(), 2);
}

/// A host thread asking for the fd while another switches the mode is never handed the
/// eventfd of a context that then reads in dispatch (or the reverse).
#[test]
fn the_fd_handed_out_is_the_one_the_context_keeps() {
    for i in 0..400u32 {
        let ctx = Arc::new(Context::new(ContextOptions::default()).unwrap());
        let start = Arc::new(std::sync::Barrier::new(2));
        let asker = {
            let (ctx, start) = (ctx.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                // Sweep the moment of asking across the switch.
                for _ in 0..(i * 37) % 4000 {
                    std::hint::spin_loop();
                }
                ctx.fd()
            })
        };
        start.wait();
        let switched = ctx.read_replies_in_dispatch().is_ok();
        let handed_out = asker.join().unwrap();
        assert_eq!(handed_out, ctx.fd(), "switched: {switched}");
        let link = std::fs::read_link(format!("/proc/self/fd/{handed_out}")).unwrap();
        let is_epoll = link.to_string_lossy() == "anon_inode:[eventpoll]";
        assert_eq!(is_epoll, switched, "{link:?}");
    }
}

/// A reply far larger than one read arrives over many rounds: the rounds in between run
/// nothing and the fd is quiet between arrivals; the value is whole at the end.
#[test]
fn a_huge_reply_is_assembled_across_dispatch_rounds() {
    let server = TestServer::start(&[]);
    let (ctx, p, done) = connected(&server.uri("test.echo"));
    let big = "x".repeat(8 << 20);
    call(&p, &done, "echo", vec![Value::str(&big)]);
    let (mut rounds, mut idle) = (0, 0);
    let t0 = Instant::now();
    while done.lock().unwrap().len() < 2 {
        assert!(t0.elapsed() < Duration::from_secs(60), "no reply");
        if readable(ctx.fd(), 1000) {
            rounds += 1;
            idle += (ctx.dispatch(0) == 0) as usize;
        }
    }
    assert!(idle >= 1, "8 MiB came in one round? ({rounds} rounds)");
    assert_eq!(
        done.lock().unwrap()[1].as_ref().unwrap().value,
        Value::str(&big)
    );
    assert!(!readable(ctx.fd(), 0));
}
