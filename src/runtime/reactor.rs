//! The I/O thread: owns every socket as a non-blocking state machine, a timer heap
//! for connect deadlines, and hands finished calls to the completion queue.
//!
//! Other threads talk to it only through [`Command`]s plus a waker; it never blocks
//! on anything but its poller. Host-name resolution, which can block, runs on the
//! small worker pool and comes back as a command.

use super::context::{CallId, ProxyId, Reply, Shared};
use super::workers::Workers;
use crate::client::connection::{Connection, Event, Stream};
use crate::client::target::{Location, Target};
use crate::error::{Error, ErrorKind};
use crate::serial::SerializerId;
use crate::value::Value;
use crossbeam_channel::{Receiver, Sender};
use mio::{Events, Interest, Poll, Token, Waker};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const WAKER: Token = Token(usize::MAX);

pub(crate) enum Command {
    NewProxy {
        id: ProxyId,
        target: Target,
        serializer: SerializerId,
    },
    /// `message` is a complete encoded INVOKE with sequence number 0.
    Call {
        proxy: ProxyId,
        call: CallId,
        message: Vec<u8>,
    },
    Cancel,
    CloseProxy(ProxyId),
    Resolved {
        proxy: ProxyId,
        attempt: u64,
        result: io::Result<Vec<SocketAddr>>,
    },
    Shutdown,
}

/// The sending side, held by the context and every proxy handle.
#[derive(Clone)]
pub(crate) struct ReactorHandle {
    tx: Sender<Command>,
    waker: Arc<Waker>,
    /// Set while a wake-up is outstanding: one syscall per burst of commands, not per command.
    woken: Arc<AtomicBool>,
}

impl ReactorHandle {
    pub(crate) fn send(&self, cmd: Command) {
        if self.tx.send(cmd).is_ok() && !self.woken.swap(true, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }
}

pub(crate) struct Runner {
    poll: Poll,
    rx: Receiver<Command>,
    handle: ReactorHandle,
    connect_timeout: Duration,
    max_message_size: usize,
    worker_threads: usize,
}

pub(crate) fn new(options: &super::ContextOptions) -> io::Result<(ReactorHandle, Runner)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (tx, rx) = crossbeam_channel::unbounded();
    let handle = ReactorHandle {
        tx,
        waker,
        woken: Arc::new(AtomicBool::new(false)),
    };
    let runner = Runner {
        poll,
        rx,
        handle: handle.clone(),
        connect_timeout: options.connect_timeout,
        max_message_size: options.max_message_size,
        worker_threads: options.worker_threads.clamp(1, 16),
    };
    Ok((handle, runner))
}

impl Runner {
    pub(crate) fn spawn(self, shared: Arc<Shared>) -> io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("pyro-io".into())
            .spawn(move || {
                let workers = Workers::new(self.worker_threads);
                let mut reactor = Reactor {
                    poll: self.poll,
                    rx: self.rx,
                    handle: self.handle,
                    shared,
                    proxies: HashMap::new(),
                    timers: BinaryHeap::new(),
                    workers,
                    connect_timeout: self.connect_timeout,
                    max_message_size: self.max_message_size,
                    events_scratch: Vec::new(),
                    dirty: Vec::new(),
                };
                reactor.run();
            })
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Instant,
    proxy: ProxyId,
    attempt: u64,
}

struct ProxyState {
    target: Target,
    serializer: SerializerId,
    conn: Option<Connection>,
    /// Bumped on every connection attempt, so stale timers and resolutions are ignored.
    attempt: u64,
    resolving: bool,
    /// Calls waiting for name resolution: (call, message).
    queued: VecDeque<(CallId, Vec<u8>)>,
}

struct Reactor {
    poll: Poll,
    rx: Receiver<Command>,
    handle: ReactorHandle,
    shared: Arc<Shared>,
    proxies: HashMap<ProxyId, ProxyState>,
    timers: BinaryHeap<Reverse<Timer>>,
    workers: Workers,
    connect_timeout: Duration,
    max_message_size: usize,
    events_scratch: Vec<Event>,
    /// Proxies with calls submitted since the last flush.
    dirty: Vec<ProxyId>,
}

impl Reactor {
    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self
                .timers
                .peek()
                .map(|Reverse(t)| t.at.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    // The poller itself failed: nothing more can complete here.
                    self.fail_everything(Error::communication(format!("I/O poller failed: {e}")));
                    return;
                }
            }
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue;
                }
                let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
                let writable = ev.is_writable() || ev.is_error();
                self.on_socket(ev.token().0 as ProxyId, readable, writable);
            }
            self.handle.woken.store(false, Ordering::SeqCst);
            while let Ok(cmd) = self.rx.try_recv() {
                if let Command::Shutdown = cmd {
                    return;
                }
                self.on_command(cmd);
            }
            self.flush_dirty();
            self.fire_timers();
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::NewProxy {
                id,
                target,
                serializer,
            } => {
                self.proxies.insert(
                    id,
                    ProxyState {
                        target,
                        serializer,
                        conn: None,
                        attempt: 0,
                        resolving: false,
                        queued: VecDeque::new(),
                    },
                );
            }
            Command::Call {
                proxy,
                call,
                message,
            } => self.on_call(proxy, call, message),
            Command::Cancel => {
                // The registry already completed it; a call still queued is skipped when
                // written, one on the wire has its late reply dropped.
            }
            Command::CloseProxy(id) => {
                if let Some(mut st) = self.proxies.remove(&id) {
                    let calls = take_pending(&mut st);
                    if let Some(mut c) = st.conn.take() {
                        let _ = self.poll.registry().deregister(c.stream.source());
                    }
                    for call in calls {
                        self.shared.finish(call, Err(Error::cancelled()));
                    }
                }
            }
            Command::Resolved {
                proxy,
                attempt,
                result,
            } => self.on_resolved(proxy, attempt, result),
            Command::Shutdown => {}
        }
    }

    fn on_call(&mut self, proxy: ProxyId, call: CallId, message: Vec<u8>) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            self.shared
                .finish(call, Err(Error::invalid("the proxy has been freed")));
            return;
        };
        if !self.shared.is_pending(call) {
            return; // cancelled before it reached the wire
        }
        if let Some(conn) = st.conn.as_mut() {
            conn.submit(call, message);
            if conn.is_ready() {
                self.dirty.push(proxy);
            }
            return;
        }
        st.queued.push_back((call, message));
        if !st.resolving {
            self.start_connect(proxy);
        }
    }

    fn start_connect(&mut self, proxy: ProxyId) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        st.attempt += 1;
        let attempt = st.attempt;
        match &st.target.location {
            Location::Unix { path } => {
                let stream = mio::net::UnixStream::connect(path).map(Stream::Unix);
                self.connect_with(proxy, stream);
            }
            Location::Tcp { host, port } => {
                if let Ok(ip) = host.parse::<IpAddr>() {
                    let addr = SocketAddr::new(ip, *port);
                    let stream = mio::net::TcpStream::connect(addr).map(Stream::Tcp);
                    self.connect_with(proxy, stream);
                } else {
                    st.resolving = true;
                    let (host, port) = (host.clone(), *port);
                    let handle = self.handle.clone();
                    self.workers.run(Box::new(move || {
                        use std::net::ToSocketAddrs;
                        let result = (host.as_str(), port).to_socket_addrs().map(|a| a.collect());
                        handle.send(Command::Resolved {
                            proxy,
                            attempt,
                            result,
                        });
                    }));
                }
            }
        }
    }

    fn on_resolved(&mut self, proxy: ProxyId, attempt: u64, result: io::Result<Vec<SocketAddr>>) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        if st.attempt != attempt {
            return;
        }
        st.resolving = false;
        let host = match &st.target.location {
            Location::Tcp { host, .. } => host.clone(),
            Location::Unix { path } => path.clone(),
        };
        match result {
            Ok(addrs) if !addrs.is_empty() => {
                // Prefer IPv4 like Pyro4's socketutil does for "localhost".
                let addr = addrs.iter().find(|a| a.is_ipv4()).unwrap_or(&addrs[0]);
                let stream = mio::net::TcpStream::connect(*addr).map(Stream::Tcp);
                self.connect_with(proxy, stream);
            }
            Ok(_) => self.fail_proxy(
                proxy,
                Error::communication(format!("host {host:?} has no addresses")),
            ),
            Err(e) => self.fail_proxy(
                proxy,
                Error::communication(format!("cannot resolve host {host:?}: {e}")),
            ),
        }
    }

    fn connect_with(&mut self, proxy: ProxyId, stream: io::Result<Stream>) {
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                let e = Error::communication(format!("cannot connect: {e}"));
                return self.fail_proxy(proxy, e);
            }
        };
        let token = Token(proxy as usize);
        if let Err(e) = self.poll.registry().register(
            stream.source(),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return self.fail_proxy(
                proxy,
                Error::communication(format!("cannot register socket: {e}")),
            );
        }
        let max = self.max_message_size;
        let st = self.proxies.get_mut(&proxy).expect("proxy exists");
        let mut conn = Connection::new(
            stream,
            &st.target.object,
            st.serializer,
            Value::str("hello"),
            max,
        );
        while let Some((call, msg)) = st.queued.pop_front() {
            // Queued before connecting: parked until the handshake is done.
            conn.submit(call, msg);
        }
        st.conn = Some(conn);
        if !self.connect_timeout.is_zero() {
            self.timers.push(Reverse(Timer {
                at: Instant::now() + self.connect_timeout,
                proxy,
                attempt: st.attempt,
            }));
        }
    }

    /// Write the calls submitted in this round, one write per connection.
    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for proxy in dirty.drain(..) {
            let result = match self.proxies.get_mut(&proxy).and_then(|st| st.conn.as_mut()) {
                Some(conn) if conn.has_unwritten() => conn.flush(),
                _ => Ok(()),
            };
            if let Err(e) = result {
                self.fail_proxy(proxy, e);
            }
        }
        self.dirty = dirty;
    }

    fn on_socket(&mut self, proxy: ProxyId, readable: bool, writable: bool) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        let Some(conn) = st.conn.as_mut() else { return };
        let mut events = std::mem::take(&mut self.events_scratch);
        let result = conn.on_ready(readable, writable, &mut events);
        for ev in events.drain(..) {
            match ev {
                Event::Connected(_) => {}
                Event::Reply { call, outcome } => {
                    let outcome = outcome.map(|(value, annotations)| Reply { value, annotations });
                    self.shared.finish(call, outcome);
                }
            }
        }
        self.events_scratch = events;
        if let Err(e) = result {
            self.fail_proxy(proxy, e);
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse(t)) = self.timers.peek() {
            if t.at > now {
                break;
            }
            let Reverse(t) = self.timers.pop().unwrap();
            let stale = match self.proxies.get(&t.proxy) {
                Some(st) => {
                    st.attempt != t.attempt || st.conn.as_ref().is_none_or(|c| c.is_ready())
                }
                None => true,
            };
            if !stale {
                let e = Error::new(ErrorKind::Communication, "connect timed out");
                self.fail_proxy(t.proxy, e);
            }
        }
    }

    /// The connection is unusable: every call on it fails with `err`; the next call
    /// connects afresh.
    fn fail_proxy(&mut self, proxy: ProxyId, err: Error) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        let calls = take_pending(st);
        if let Some(mut c) = st.conn.take() {
            let _ = self.poll.registry().deregister(c.stream.source());
        }
        st.resolving = false;
        let target = &st.target;
        let err = with_context(err, target);
        for call in calls {
            self.shared.finish(call, Err(err.clone()));
        }
    }

    fn fail_everything(&mut self, err: Error) {
        let ids: Vec<ProxyId> = self.proxies.keys().copied().collect();
        for id in ids {
            self.fail_proxy(id, err.clone());
        }
    }
}

fn take_pending(st: &mut ProxyState) -> Vec<CallId> {
    let mut calls: Vec<CallId> = st
        .conn
        .as_ref()
        .map(|c| c.pending_calls().collect())
        .unwrap_or_default();
    calls.extend(st.queued.drain(..).map(|(c, _)| c));
    calls
}

/// Name the endpoint in connection errors, so a log line says which server failed.
fn with_context(mut err: Error, target: &Target) -> Error {
    if err.kind == ErrorKind::Communication || err.kind == ErrorKind::Protocol {
        let loc = match &target.location {
            Location::Tcp { host, port } => format!("{host}:{port}"),
            Location::Unix { path } => format!("unix:{path}"),
        };
        err.message = format!("{} ({}@{})", err.message, target.object, loc);
    }
    err
}
