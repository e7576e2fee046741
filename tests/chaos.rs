//! Chaos: 10,000 calls over 50 proxies (40 direct, 10 PYRONAME) against two real Pyro4
//! servers and the real name server, killed and restarted at random moments. Every call
//! completes exactly once, errors are only COMMUNICATION, TIMEOUT or NAMING, calls after
//! the restarts succeed, and the library's threads and fds return to their baseline.

mod common;

use common::{NameServer, TestServer};
use pyro_async::runtime::{CallRequest, ContextOptions, Outcome};
use pyro_async::{ErrorKind, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Threads the library runs (named pyro-io / pyro-worker); the harness' own helper
/// threads come and go and are not counted.
fn library_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.starts_with("pyro-"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Sockets, eventfds and epoll instances: what the library opens (the harness only
/// holds pipes to its server processes).
fn library_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|f| std::fs::read_link(f.path()).ok())
                .filter(|l| {
                    let l = l.to_string_lossy();
                    l.starts_with("socket:") || l.starts_with("anon_inode:")
                })
                .count()
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(port: u16, ns_port: u16, name: &str) -> TestServer {
    let ns = format!("127.0.0.1:{ns_port}");
    TestServer::start(&[
        "--port",
        &port.to_string(),
        "--threadpool",
        "80",
        "--ns",
        &ns,
        "--ns-name",
        name,
    ])
}

const NAMES: [&str; 2] = ["chaos.a", "chaos.b"];

#[test]
fn ten_thousand_calls_while_servers_die_and_restart() {
    const CALLS: usize = 10_000;
    const PROXIES: usize = 50;
    let ports = [free_port(), free_port()];
    let ns_port = free_port();
    let ns = Arc::new(Mutex::new(NameServer::start(ns_port)));
    let servers: Arc<Mutex<Vec<TestServer>>> = Arc::new(Mutex::new(
        (0..2).map(|i| start(ports[i], ns_port, NAMES[i])).collect(),
    ));
    let threads_before = library_threads();
    let fds_before = library_fds();

    let outcomes: Arc<Mutex<HashMap<u64, Vec<Outcome>>>> = Default::default();
    let mut submitted = 0usize;
    {
        let mut opts = ContextOptions::default();
        opts.ns.host = "127.0.0.1".into();
        opts.ns.port = ns_port;
        opts.ns.discovery = None; // never broadcast
        let ctx = common::new_context(opts);
        // the leak check below is meaningful: the running library is visible to it (the
        // I/O thread names itself when it starts, so give it a moment)
        let seen = Instant::now();
        while library_threads() == 0 && seen.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(library_threads() >= 1 && library_fds() > fds_before);
        let proxies: Vec<_> = (0..PROXIES)
            .map(|i| {
                let uri = if i % 5 == 4 {
                    format!("PYRONAME:{}", NAMES[i % 2])
                } else {
                    format!("PYRO:test.echo@127.0.0.1:{}", ports[i % 2])
                };
                let p = ctx.proxy(&uri).unwrap();
                // Half the proxies have deadlines (the I/O thread keeps their timers), and
                // every third may retry a call once on a fresh connection (it keeps a
                // record of each call the lane writes, and sends it again).
                if i % 2 == 1 {
                    p.set_timeout(Some(Duration::from_secs(5)));
                }
                if i % 3 == 0 {
                    p.set_max_retries(1);
                }
                p
            })
            .collect();

        // The chaos driver: kill one server at a random moment, restart it shortly after.
        let stop = Arc::new(AtomicBool::new(false));
        let driver = {
            let (servers, stop, ns) = (servers.clone(), stop.clone(), ns.clone());
            std::thread::spawn(move || {
                let mut seed = 0x2545F4914F6CDD1Du64;
                let mut rnd = move |n: u64| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed % n
                };
                let mut kills = 0;
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(300 + rnd(900)));
                    let i = rnd(3) as usize;
                    kills += 1;
                    if i == 2 {
                        // the name server: its registrations are gone until the servers
                        // register again (each does when it restarts)
                        ns.lock().unwrap().kill();
                        std::thread::sleep(Duration::from_millis(100 + rnd(400)));
                        *ns.lock().unwrap() = NameServer::start(ns_port);
                        continue;
                    }
                    servers.lock().unwrap()[i].kill();
                    std::thread::sleep(Duration::from_millis(100 + rnd(400)));
                    servers.lock().unwrap()[i] = start(ports[i], ns_port, NAMES[i]);
                }
                kills
            })
        };

        let t0 = Instant::now();
        let mut in_flight = 0usize;
        let mut lanes_open = 0usize;
        let done = |o: &Arc<Mutex<HashMap<u64, Vec<Outcome>>>>| {
            o.lock().unwrap().values().map(Vec::len).sum::<usize>()
        };
        while submitted < CALLS || done(&outcomes) < CALLS {
            // keep up to 200 calls in flight, paced over ~15 s so the kills hit a live run
            let allowed = (t0.elapsed().as_millis() as usize * CALLS / 15_000).min(CALLS);
            while submitted < allowed && in_flight < 200 {
                let outs = outcomes.clone();
                let tag = submitted as u64;
                let req = CallRequest::new("echo", vec![Value::Int(tag as i64)], vec![]);
                proxies[submitted % PROXIES]
                    .call(
                        req,
                        Box::new(move |o| outs.lock().unwrap().entry(tag).or_default().push(o)),
                    )
                    .unwrap();
                submitted += 1;
                in_flight += 1;
            }
            let mut p = libc::pollfd {
                fd: ctx.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            unsafe { libc::poll(&mut p, 1, 20) };
            let ran = ctx.dispatch(0);
            in_flight -= ran;
            lanes_open = lanes_open.max(proxies.iter().filter(|p| p.direct_lane_open()).count());
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "chaos run did not finish"
            );
        }
        stop.store(true, Ordering::SeqCst);
        let kills = driver.join().unwrap();

        // exactly once, right values, only the allowed error kinds
        let outs = outcomes.lock().unwrap();
        assert_eq!(outs.len(), CALLS);
        let (mut ok, mut comm, mut timeout, mut naming) = (0, 0, 0, 0);
        for (tag, list) in outs.iter() {
            assert_eq!(list.len(), 1, "call {tag} completed {} times", list.len());
            match &list[0] {
                Ok(r) => {
                    assert_eq!(r.value, Value::Int(*tag as i64));
                    ok += 1;
                }
                Err(e) if e.kind == ErrorKind::Communication => comm += 1,
                Err(e) if e.kind == ErrorKind::Timeout => timeout += 1,
                Err(e) if e.kind == ErrorKind::Naming => naming += 1,
                Err(e) => panic!(
                    "call {tag}: unexpected error kind {:?}: {}",
                    e.kind, e.message
                ),
            }
        }
        println!(
            "chaos: {CALLS} calls in {:.1} s, {kills} kills: {ok} ok, {comm} communication, {timeout} timeout, {naming} naming; up to {lanes_open} direct lanes open at once",
            t0.elapsed().as_secs_f64()
        );
        assert!(lanes_open >= 10, "the direct lane must be in play");
        drop(outs);
        assert!(kills >= 3, "the driver must actually have killed servers");
        assert!(ok > CALLS / 2);

        // with everything up again (servers re-register), every proxy works
        for i in 0..2 {
            let mut s = servers.lock().unwrap();
            s[i].kill();
            s[i] = start(ports[i], ns_port, NAMES[i]);
        }
        let after: Arc<Mutex<Vec<Outcome>>> = Default::default();
        let end = Instant::now() + Duration::from_secs(30);
        for p in &proxies {
            loop {
                let a = after.clone();
                let before = after.lock().unwrap().len();
                p.call(
                    CallRequest::new("echo", vec![Value::str("after")], vec![]),
                    Box::new(move |o| a.lock().unwrap().push(o)),
                )
                .unwrap();
                while after.lock().unwrap().len() == before {
                    let mut pf = libc::pollfd {
                        fd: ctx.fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    unsafe { libc::poll(&mut pf, 1, 20) };
                    ctx.dispatch(0);
                }
                let last_ok = after.lock().unwrap().last().unwrap().is_ok();
                if last_ok {
                    break;
                }
                // a connection that died with the last kill fails once; the next call reconnects
                assert!(Instant::now() < end, "a proxy never recovered");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        for p in &proxies {
            p.close();
        }
        ctx.dispatch(0);
    }
    // the context is gone: its threads and sockets too
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(threads_before, 0);
    assert_eq!(library_threads(), 0, "library threads outlived the context");
    assert_eq!(library_fds(), fds_before, "sockets or eventfds leaked");
}
