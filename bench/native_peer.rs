//! This library against the scripted native peer (fast serpent echo), next to a raw TCP
//! ping-pong of 100-byte messages on the same machine, in one run.
//!   cargo run --release --example native_peer [CALLS] [ROUNDS]
#[path = "../tests/common/fake_peer.rs"]
mod fake_peer;

use pyro_async::runtime::{CallRequest, Context, ContextOptions};
use pyro_async::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn raw_ping_pong(n: usize) -> f64 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 100];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    let mut buf = [7u8; 100];
    let t = Instant::now();
    for _ in 0..n {
        c.write_all(&buf).unwrap();
        c.read_exact(&mut buf).unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn library(n: usize, in_flight: usize, busy_poll: Duration, read_in_dispatch: bool) -> f64 {
    let peer = fake_peer::FakePeer::start(vec![fake_peer::Fault::Echo]);
    let ctx = Context::new(ContextOptions::default()).unwrap();
    ctx.set_busy_poll(busy_poll).unwrap();
    if read_in_dispatch {
        ctx.read_replies_in_dispatch().unwrap();
    }
    let p = ctx.proxy(&peer.uri()).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let payload = Value::str("x".repeat(64));
    let submit = |p: &pyro_async::runtime::Proxy| {
        let d = done.clone();
        p.call(
            CallRequest::new("echo", vec![payload.clone()], vec![]),
            Box::new(move |_| {
                d.fetch_add(1, Ordering::Relaxed);
            }),
        )
        .unwrap();
    };
    // warm up the connection
    submit(&p);
    while done.load(Ordering::Relaxed) < 1 {
        ctx.dispatch(0);
    }
    done.store(0, Ordering::Relaxed);
    let t = Instant::now();
    let mut issued = 0;
    while done.load(Ordering::Relaxed) < n {
        while issued < n && issued - done.load(Ordering::Relaxed) < in_flight {
            submit(&p);
            issued += 1;
        }
        let mut pf = libc::pollfd {
            fd: ctx.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut pf, 1, 100) };
        ctx.dispatch(0);
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// The busy-poll window of the opt-in row (`pyro_ctx_set_busy_poll`).
const BUSY_POLL_US: u64 = 100;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(7);
    // The machines are noisy (the raw rate alone moves 2x between runs): the three
    // clients take turns, round after round, and each ratio is the median of the
    // per-round ratios, so that a slow spell hits both sides of it.
    // PROFILE=1 / PROFILE=64: run only that library case (under perf), print its rate.
    if let Some(k) = std::env::var("PROFILE").ok().and_then(|v| v.parse().ok()) {
        let spin = std::env::var("BUSY_POLL_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let here = std::env::var("READ_IN_DISPATCH").is_ok_and(|v| v == "1");
        println!(
            "{:.0} calls/s",
            library(n, k, Duration::from_micros(spin), here)
        );
        return;
    }
    let (mut raw, mut one, mut many, mut spun) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut here_one, mut here_many) = (Vec::new(), Vec::new());
    let off = Duration::ZERO;
    let spin = Duration::from_micros(BUSY_POLL_US);
    for _ in 0..rounds {
        raw.push(raw_ping_pong(n));
        one.push(library(n, 1, off, false));
        many.push(library(n * 4, 64, off, false));
        spun.push(library(n, 1, spin, false));
        here_one.push(library(n, 1, off, true));
        here_many.push(library(n * 4, 64, off, true));
    }
    let ratio = |v: &[f64]| median(v.iter().zip(&raw).map(|(a, r)| a / r * 100.0).collect());
    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>8}",
        "client (loopback, same run, median of rounds)", "calls/s", "min", "max", "vs raw"
    );
    let row = |name: &str, v: &[f64], pct: f64| {
        let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = v.iter().cloned().fold(0.0, f64::max);
        println!(
            "{:<48} {:>10.0} {:>10.0} {:>10.0} {:>7.0}%",
            name,
            median(v.to_vec()),
            lo,
            hi,
            pct
        );
    };
    row("raw TCP ping-pong, 100 B", &raw, 100.0);
    row("pyro_async, native peer, 1 in flight", &one, ratio(&one));
    row(
        "pyro_async, native peer, 64 in flight, 1 proxy",
        &many,
        ratio(&many),
    );
    row(
        &format!("pyro_async, 1 in flight, busy poll {BUSY_POLL_US} us"),
        &spun,
        ratio(&spun),
    );
    row(
        "pyro_async, 1 in flight, replies read in dispatch",
        &here_one,
        ratio(&here_one),
    );
    row(
        "pyro_async, 64 in flight, replies read in dispatch",
        &here_many,
        ratio(&here_many),
    );
    println!(
        "({rounds} rounds of {n} calls; 64 in flight: {} calls)",
        n * 4
    );
}
