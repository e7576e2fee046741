//! Soak: one million calls through one context against the scripted native peer, with a
//! steady stream of cancels (every 10th call) and timeouts (every 50th call goes to a
//! peer that answers too late); every call has a deadline. Prints resident memory and
//! open fds every 100,000 calls.
//!   cargo run --release --example soak [CALLS]   (READ_IN_DISPATCH=1: replies read in
//!   dispatch, `Context::read_replies_in_dispatch`)
#[path = "../tests/common/fake_peer.rs"]
mod fake_peer;

use fake_peer::{FakePeer, Fault};
use pyro_async::runtime::{CallRequest, Context, ContextOptions};
use pyro_async::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let fast = FakePeer::start(vec![Fault::Echo]);
    let slow = FakePeer::start(vec![Fault::Delay(Duration::from_millis(30))]);
    let ctx = Context::new(ContextOptions::default()).unwrap();
    if std::env::var("READ_IN_DISPATCH").is_ok_and(|v| v == "1") {
        ctx.read_replies_in_dispatch().unwrap();
        println!("replies read in dispatch");
    }
    let proxies: Vec<_> = (0..8).map(|_| ctx.proxy(&fast.uri()).unwrap()).collect();
    // A generous deadline on every call, as PYRO_COMMTIMEOUT gives: the timers of calls
    // that completed long before must not pile up.
    for p in &proxies {
        p.set_timeout(Some(Duration::from_secs(30)));
    }
    let late = ctx.proxy(&slow.uri()).unwrap();
    late.set_timeout(Some(Duration::from_millis(5)));
    let done = Arc::new(AtomicUsize::new(0));
    let (ok, err) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let t0 = Instant::now();
    println!(
        "{:>10} {:>9} {:>10} {:>6} {:>10} {:>10}",
        "calls", "seconds", "RSS KiB", "fds", "ok", "errors"
    );
    let mut issued = 0usize;
    let mut next_report = 0usize;
    while done.load(Ordering::Relaxed) < total {
        while issued < total && issued - done.load(Ordering::Relaxed) < 256 {
            let (d, o, e) = (done.clone(), ok.clone(), err.clone());
            let cb = Box::new(move |r: pyro_async::runtime::Outcome| {
                if r.is_ok() { &o } else { &e }.fetch_add(1, Ordering::Relaxed);
                d.fetch_add(1, Ordering::Relaxed);
            });
            let req = CallRequest::new("echo", vec![Value::Int(issued as i64)], vec![]);
            let id = if issued % 50 == 25 {
                late.call(req, cb)
            } else {
                proxies[issued % 8].call(req, cb)
            }
            .unwrap();
            if issued % 10 == 9 {
                ctx.cancel(id);
            }
            issued += 1;
        }
        let mut pf = libc::pollfd {
            fd: ctx.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut pf, 1, 50) };
        ctx.dispatch(0);
        let d = done.load(Ordering::Relaxed);
        if d >= next_report {
            println!(
                "{:>10} {:>9.1} {:>10} {:>6} {:>10} {:>10}",
                d,
                t0.elapsed().as_secs_f64(),
                rss_kib(),
                fds(),
                ok.load(Ordering::Relaxed),
                err.load(Ordering::Relaxed)
            );
            next_report += total / 10;
        }
    }
    println!(
        "{:>10} {:>9.1} {:>10} {:>6} {:>10} {:>10}",
        done.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
        rss_kib(),
        fds(),
        ok.load(Ordering::Relaxed),
        err.load(Ordering::Relaxed)
    );
}
