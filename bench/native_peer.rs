//! This library against the scripted native peer (fast serpent echo), next to a raw TCP
//! ping-pong of 100-byte messages on the same machine, in one run.
//!   cargo run --release --example native_peer [CALLS]
#[path = "../tests/common/fake_peer.rs"]
mod fake_peer;

use pyro_async::runtime::{CallRequest, Context, ContextOptions};
use pyro_async::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

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

fn library(n: usize, in_flight: usize) -> f64 {
    let peer = fake_peer::FakePeer::start(vec![fake_peer::Fault::Echo]);
    let ctx = Context::new(ContextOptions::default()).unwrap();
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

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let raw = raw_ping_pong(n);
    let one = library(n, 1);
    let sixty_four = library(n * 4, 64);
    println!(
        "{:<44} {:>10} {:>12}",
        "client (loopback, same run)", "calls/s", "vs raw"
    );
    println!(
        "{:<44} {:>10.0} {:>11.0}%",
        "raw TCP ping-pong, 100 B", raw, 100.0
    );
    println!(
        "{:<44} {:>10.0} {:>11.0}%",
        "pyro_async, native peer, 1 in flight",
        one,
        one / raw * 100.0
    );
    println!(
        "{:<44} {:>10.0} {:>11.0}%",
        "pyro_async, native peer, 64 in flight, 1 proxy",
        sixty_four,
        sixty_four / raw * 100.0
    );
}
