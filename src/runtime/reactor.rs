//! The I/O thread: owns every socket as a non-blocking state machine, a timer heap
//! (connect deadlines, call deadlines, patient retries), and hands finished calls to the
//! completion queue.
//!
//! Other threads talk to it only through [`Command`]s plus a waker; it never blocks on
//! anything but its poller. Work that can block (host-name resolution, locating the name
//! server, name lookups) runs on the small worker pool and comes back as a command, so a
//! proxy waiting for a name server holds no thread: it is a timer entry.

use super::context::{
    CallId, CallKind, CallRequest, ConnState, Patience, ProxyConfig, ProxyId, Reply, Shared,
    StateCallback,
};
use super::id_map::IdMap;
use super::workers::Workers;
use crate::client::connection::{Connection, Event, Expect, Resend, Stream, Unfinished};
pub(crate) use crate::client::outbox::CallInfo;
use crate::client::target::{Location, Target, Uri};
use crate::client::wire;
use crate::client::wire::ConnectInfo;
use crate::error::{Error, ErrorKind, Result};
use crate::naming::resolve::{self, NsConfig};
use crate::protocol::{FLAGS_BATCH, FLAGS_ONEWAY};
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

/// Below this many timers the heap is never swept.
const MIN_TIMER_SWEEP: usize = 4096;

/// Decoders recurse up to `serial::MAX_DEPTH` levels on this thread; leave them room
/// even in debug builds.
const IO_THREAD_STACK: usize = 8 << 20;

/// A call's request: encoded on the caller's thread (direct proxies, sequence number 0),
/// or encoded here once a named proxy knows its object id.
pub(crate) enum Payload {
    Encoded(Vec<u8>),
    Request(CallRequest),
}

pub(crate) enum ConfigChange {
    Serializer(SerializerId),
    Patience(Option<Patience>),
    MaxRetries(u32),
    Timeout(Option<Duration>),
    StateCallback(Option<StateCallback>),
}

pub(crate) enum Command {
    NewProxy {
        id: ProxyId,
        uri: Uri,
        config: ProxyConfig,
    },
    Call {
        proxy: ProxyId,
        call: CallId,
        payload: Payload,
        info: CallInfo,
    },
    /// Connect now, ahead of the first call.
    Bind(ProxyId),
    /// Close the connection (the next call connects again).
    Release(ProxyId),
    Configure {
        proxy: ProxyId,
        change: ConfigChange,
    },
    /// Nothing to do but look again: a call was cancelled (a queued one is skipped when
    /// written, one on the wire has its late reply dropped) or a setting changed.
    Wake,
    CloseProxy(ProxyId),
    /// A submitting thread's direct write to the proxy's connection failed.
    LaneFailed(ProxyId),
    /// Write what submitting threads queued on the proxy's connection.
    Flush(ProxyId),
    /// Have the proxy's daemon drop an item stream that no call reads.
    CloseStream {
        proxy: ProxyId,
        stream_id: String,
    },
    Resolved {
        proxy: ProxyId,
        attempt: u64,
        result: Result<Vec<SocketAddr>>,
    },
    NameResolved {
        proxy: ProxyId,
        attempt: u64,
        result: Result<Target>,
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
    ns: NsConfig,
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
        ns: options.ns.clone(),
    };
    Ok((handle, runner))
}

impl Runner {
    pub(crate) fn spawn(self, shared: Arc<Shared>) -> io::Result<JoinHandle<()>> {
        let builder = std::thread::Builder::new()
            .name("pyro-io".into())
            .stack_size(IO_THREAD_STACK);
        super::threads::spawn(builder, move || {
            let mut reactor = Reactor {
                draining: HashMap::new(),
                next_drain_token: DRAIN_TOKEN_BASE,
                poll: self.poll,
                rx: self.rx,
                handle: self.handle,
                shared,
                proxies: IdMap::default(),
                timers: BinaryHeap::new(),
                timer_seq: 0,
                workers: Workers::new(self.worker_threads),
                connect_timeout: self.connect_timeout,
                max_message_size: self.max_message_size,
                ns: Arc::new(self.ns),
                events_scratch: Vec::new(),
                dirty: Vec::new(),
                compact_at: MIN_TIMER_SWEEP,
            };
            reactor.run();
        })
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum TimerKind {
    /// Connect + handshake deadline of one connection attempt.
    Connect { attempt: u64 },
    /// A patient proxy tries again.
    Retry { attempt: u64 },
    /// A call's deadline.
    Deadline { call: CallId },
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Instant,
    seq: u64,
    proxy: ProxyId,
    kind: TimerKind,
}

/// The id of a request no call waits for: its completion finds no callback and is
/// dropped by dispatch (real call ids start at 1).
const UNTRACKED_CALL: CallId = 0;

/// A call that is not on a connection yet.
struct Queued {
    call: CallId,
    payload: Payload,
    info: CallInfo,
    /// Times it may still be sent again if its connection dies (max_retries).
    left: u32,
}

struct ProxyState {
    uri: Uri,
    config: ProxyConfig,
    /// Where a named proxy's object was found (cleared when a connection to it fails).
    resolved: Option<Target>,
    conn: Option<Connection>,
    /// Bumped on every connection or resolution attempt, so stale timers and results are ignored.
    attempt: u64,
    /// Resolving a host or a name, or waiting to retry: calls queue meanwhile.
    busy: bool,
    queued: VecDeque<Queued>,
    /// Attempts in a row that failed before any connection worked (patience).
    tries: u32,
    state: Option<ConnState>,
    /// What the server said at the last handshake (methods, oneway, attrs).
    meta: Option<ConnectInfo>,
}

impl ProxyState {
    fn label(&self) -> String {
        match (&self.uri, &self.resolved) {
            (Uri::Direct(t), _) => t.display(),
            (_, Some(t)) => t.display(),
            (Uri::Name { name, .. }, None) => format!("PYRONAME:{name}"),
            (Uri::Meta { meta, .. }, None) => format!("PYROMETA:{}", meta.join(",")),
        }
    }

    fn target(&self) -> Option<&Target> {
        match &self.uri {
            Uri::Direct(t) => Some(t),
            _ => self.resolved.as_ref(),
        }
    }

    /// A named proxy's resolution, mirrored to its handles (`Proxy::resolved_uri`).
    fn set_resolved(&mut self, t: Option<Target>) {
        *self.config.link.resolved.lock().unwrap() = t.as_ref().map(Target::display);
        self.resolved = t;
    }
}

/// A connection retired after one of its calls timed out: the calls already on it keep
/// their deadlines and get their replies (the timed-out call's late reply is matched by
/// sequence number and dropped); no new call goes on it, and its sequence numbers are
/// never reused. Dropped once no live call awaits it.
struct Draining {
    proxy: ProxyId,
    conn: Connection,
    /// Calls whose deadline passed here: their TIMEOUT is queued, but they count as
    /// pending until dispatch claims them, and must not keep the connection.
    timed_out: Vec<CallId>,
}

/// Poll tokens of draining connections start here (proxy ids are far below).
const DRAIN_TOKEN_BASE: usize = 1 << 48;

struct Reactor {
    draining: HashMap<usize, Draining>,
    next_drain_token: usize,
    poll: Poll,
    rx: Receiver<Command>,
    handle: ReactorHandle,
    shared: Arc<Shared>,
    proxies: IdMap<ProxyState>,
    timers: BinaryHeap<Reverse<Timer>>,
    timer_seq: u64,
    workers: Workers,
    connect_timeout: Duration,
    max_message_size: usize,
    ns: Arc<NsConfig>,
    events_scratch: Vec<Event>,
    /// Proxies with calls submitted since the last flush.
    dirty: Vec<ProxyId>,
    /// Timer count at which dead deadline timers are swept out.
    compact_at: usize,
}

impl Reactor {
    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        // When the host asked for busy polling: after socket activity, poll without
        // sleeping for that long, so a quick reply is seen without a wake-up.
        let mut last_io = Instant::now();
        loop {
            // Direct calls' deadlines join the heap, then the next wake-up is published;
            // a deadline added in between is taken before sleeping.
            loop {
                for (at, proxy, call) in self.shared.take_deadlines() {
                    self.add_timer(at, proxy, TimerKind::Deadline { call });
                }
                self.compact_timers();
                self.shared.note_timers(self.timers.len());
                if !self
                    .shared
                    .publish_next_timer(self.timers.peek().map(|Reverse(t)| t.at))
                {
                    break;
                }
            }
            let timeout = self
                .timers
                .peek()
                .map(|Reverse(t)| t.at.saturating_duration_since(Instant::now()));
            let spin = Duration::from_micros(self.shared.busy_poll_us());
            let polled = if !spin.is_zero() && last_io.elapsed() < spin {
                self.spin_poll(&mut events, last_io + spin, timeout)
            } else {
                self.poll.poll(&mut events, timeout)
            };
            if !spin.is_zero() && !events.is_empty() {
                last_io = Instant::now();
            }
            if let Err(e) = polled {
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
                let closing = ev.is_read_closed() || ev.is_error();
                let readable = ev.is_readable() || closing;
                let writable = ev.is_writable() || ev.is_error();
                if ev.token().0 >= DRAIN_TOKEN_BASE {
                    self.on_draining_socket(ev.token().0, readable, writable, closing);
                } else {
                    self.on_socket(ev.token().0 as ProxyId, readable, writable, closing);
                }
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

    /// A call's deadline timer leaves the heap only when it fires, long after most calls
    /// completed: with generous deadlines the heap would hold every call of the last
    /// timeout period. When it has doubled since the last sweep, keep only the live ones.
    fn compact_timers(&mut self) {
        if self.timers.len() < self.compact_at {
            return;
        }
        let timers = &mut self.timers;
        self.shared.with_pending(|pending| {
            timers.retain(|Reverse(t)| match t.kind {
                TimerKind::Deadline { call } => pending(call),
                _ => true,
            })
        });
        self.compact_at = (self.timers.len() * 2).max(MIN_TIMER_SWEEP);
    }

    /// Poll without blocking until an event or `until`, then block as usual.
    fn spin_poll(
        &mut self,
        events: &mut Events,
        until: Instant,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let until = timeout.map_or(until, |t| until.min(Instant::now() + t));
        while Instant::now() < until {
            self.poll.poll(events, Some(Duration::ZERO))?;
            if !events.is_empty() {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        self.poll.poll(events, timeout)
    }

    fn add_timer(&mut self, at: Instant, proxy: ProxyId, kind: TimerKind) {
        self.timer_seq += 1;
        self.timers.push(Reverse(Timer {
            at,
            seq: self.timer_seq,
            proxy,
            kind,
        }));
    }

    fn set_state(&mut self, proxy: ProxyId, state: ConnState) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        if st.state == Some(state) {
            return;
        }
        let label = st.label();
        self.shared.log(super::context::LogLevel::Debug, || {
            format!("{label}: {state:?}")
        });
        st.state = Some(state);
        if let Some(cb) = st.config.state_cb.clone() {
            self.shared.post(Box::new(move || cb(state)));
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::NewProxy { id, uri, config } => {
                self.proxies.insert(
                    id,
                    ProxyState {
                        uri,
                        config,
                        resolved: None,
                        conn: None,
                        attempt: 0,
                        busy: false,
                        queued: VecDeque::new(),
                        tries: 0,
                        state: None,
                        meta: None,
                    },
                );
            }
            Command::Call {
                proxy,
                call,
                payload,
                info,
            } => self.on_call(proxy, call, payload, info),
            Command::Bind(proxy) => {
                if let Some(st) = self.proxies.get(&proxy) {
                    if st.conn.is_none() && !st.busy {
                        self.start_connect(proxy);
                    }
                }
            }
            Command::Release(proxy) => {
                if self.proxies.get(&proxy).is_some_and(|st| st.conn.is_some()) {
                    self.connection_failed(proxy, Error::communication("connection released"));
                }
            }
            Command::Configure { proxy, change } => {
                if let Some(st) = self.proxies.get_mut(&proxy) {
                    match change {
                        ConfigChange::Patience(p) => st.config.patience = p,
                        ConfigChange::Serializer(s) => st.config.serializer = s,
                        ConfigChange::MaxRetries(n) => {
                            st.config.max_retries = n;
                        }
                        ConfigChange::Timeout(t) => st.config.timeout = t,
                        ConfigChange::StateCallback(cb) => st.config.state_cb = cb,
                    }
                }
            }
            Command::Flush(proxy) => self.dirty.push(proxy),
            Command::CloseStream { proxy, stream_id } => self.close_stream(proxy, &stream_id),
            Command::LaneFailed(proxy) => {
                let failure = self
                    .proxies
                    .get_mut(&proxy)
                    .and_then(|st| st.conn.as_mut())
                    .and_then(|c| c.take_failure());
                if let Some(e) = failure {
                    self.connection_failed(proxy, e);
                }
            }
            Command::Wake => {}
            Command::CloseProxy(id) => {
                if let Some(reads) = self.shared.dispatch_reads() {
                    reads.forget(id);
                }
                if let Some(mut st) = self.proxies.remove(&id) {
                    let calls = self.take_calls(&mut st);
                    for (call, _) in calls {
                        self.shared.finish(call, Err(Error::cancelled()));
                    }
                }
                self.fail_proxy_draining(id, &Error::cancelled());
            }
            Command::Resolved {
                proxy,
                attempt,
                result,
            } => self.on_resolved(proxy, attempt, result),
            Command::NameResolved {
                proxy,
                attempt,
                result,
            } => self.on_name_resolved(proxy, attempt, result),
            Command::Shutdown => {}
        }
    }

    fn on_call(&mut self, proxy: ProxyId, call: CallId, payload: Payload, info: CallInfo) {
        self.place_call(proxy, call, payload, info);
        // Placed (queued, written or failed): direct calls may follow it now.
        if let Some(st) = self.proxies.get(&proxy) {
            let mut lane = st.config.link.lane.lock().unwrap();
            lane.via_reactor = lane.via_reactor.saturating_sub(1);
        }
    }

    fn place_call(&mut self, proxy: ProxyId, call: CallId, payload: Payload, info: CallInfo) {
        if !self.proxies.contains_key(&proxy) {
            self.shared
                .finish(call, Err(Error::invalid("the proxy has been freed")));
            return;
        }
        if !self.shared.is_pending(call) {
            return; // cancelled before it reached the wire
        }
        let st = self.proxies.get_mut(&proxy).unwrap();
        if let Some(t) = st.config.timeout {
            self.add_timer(Instant::now() + t, proxy, TimerKind::Deadline { call });
        }
        let st = self.proxies.get_mut(&proxy).unwrap();
        let left = st.config.max_retries;
        st.queued.push_back(Queued {
            call,
            payload,
            info,
            left,
        });
        if st.conn.is_some() {
            self.drain_queue_into_conn(proxy);
        } else if !st.busy {
            self.start_connect(proxy);
        }
    }

    /// Send the daemon a oneway `close_stream`, over the connection the proxy has (it
    /// need not be the stream's own). Without one nothing is sent: the server drops a
    /// disconnected client's streams itself.
    fn close_stream(&mut self, proxy: ProxyId, stream_id: &str) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        if st.conn.is_none() {
            return;
        }
        let req = super::stream::close_request(stream_id);
        let info = CallInfo {
            method: req.method.clone(),
            flags: req.flags,
            kind: CallKind::Invoke,
            daemon: true,
        };
        st.queued.push_back(Queued {
            call: UNTRACKED_CALL,
            payload: Payload::Request(req),
            info,
            left: 0,
        });
        self.drain_queue_into_conn(proxy);
    }

    /// Move queued calls onto the proxy's ready connection: check them against the
    /// server's metadata, mark oneway methods, encode named proxies' calls.
    fn drain_queue_into_conn(&mut self, proxy: ProxyId) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        if !st.conn.as_ref().is_some_and(|c| c.is_ready()) {
            return;
        }
        let Some(target_object) = st.target().map(|t| t.object.clone()) else {
            return;
        };
        let serializer = st.config.serializer;
        let max_len = self.max_message_size;
        let mut refused = Vec::new();
        let conn = st.conn.as_mut().expect("checked");
        while let Some(q) = st.queued.pop_front() {
            let info = &q.info;
            let mut oneway = info.flags & FLAGS_ONEWAY != 0;
            if info.kind == CallKind::Invoke && !info.daemon {
                if let Some(meta) = &st.meta {
                    match route(meta, info) {
                        Route::Unknown => {
                            refused.push((q.call, unknown_method(&target_object, &info.method)));
                            continue;
                        }
                        Route::Oneway => oneway = true,
                        Route::Invoke => {}
                    }
                }
            }
            let mut message = match q.payload {
                Payload::Encoded(m) => m,
                Payload::Request(r) => {
                    let object = r.object.as_deref().unwrap_or(&target_object);
                    let link = &st.config.link;
                    match wire::invoke_message(
                        0, serializer, object, &r.method, &r.args, &r.kwargs, r.flags,
                    )
                    .and_then(|mut m| link.wire.lock().unwrap().seal_request(&mut m, max_len))
                    {
                        Ok(m) => m,
                        Err(e) => {
                            refused.push((q.call, e));
                            continue;
                        }
                    }
                }
            };
            let expect = match info.kind {
                CallKind::Ping => Expect::Pong,
                CallKind::Invoke if oneway => {
                    crate::protocol::add_flags(&mut message, FLAGS_ONEWAY);
                    Expect::Nothing
                }
                CallKind::Invoke => Expect::Result,
            };
            let resend = (q.left > 0).then_some(Resend {
                left: q.left,
                info: q.info,
            });
            conn.submit(q.call, message, expect, resend);
        }
        for (call, e) in refused {
            self.shared.finish(call, Err(e));
        }
        self.dirty.push(proxy);
    }

    /// Let submitting threads write to the proxy's new connection themselves. Everything
    /// queued here went on it first, so direct calls cannot overtake older calls.
    fn open_lane(&mut self, proxy: ProxyId) {
        let Some(st) = self.proxies.get(&proxy) else {
            return;
        };
        let Some(conn) = st.conn.as_ref().filter(|c| c.is_ready()) else {
            return;
        };
        let Some(object) = st.target().map(|t| Arc::<str>::from(t.object.as_str())) else {
            return;
        };
        if st.queued.is_empty() && conn.outbox.lock().unwrap().is_direct() {
            let mut lane = st.config.link.lane.lock().unwrap();
            lane.outbox = Some(conn.outbox.clone());
            lane.object = Some(object);
        }
    }

    /// Hand the proxy's ready plain connection to the host thread's reads in dispatch,
    /// when the context asked for that (TLS stays here: rustls keeps its state here).
    fn set_reader(&mut self, proxy: ProxyId) {
        let Some(reads) = self.shared.dispatch_reads() else {
            return;
        };
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        let Some(conn) = st.conn.as_mut().filter(|c| c.is_ready()) else {
            return;
        };
        let Some(fd) = conn.plain_fd() else { return };
        if conn.inbox.lock().unwrap().is_attached() {
            return;
        }
        // This thread stops watching for replies first, but keeps watching for the
        // peer's FIN and for write space: a server that closed while the host was idle
        // is noticed here at once, as without this mode, and the next call connects
        // afresh instead of failing on the dead connection.
        let moved = watch_close_and_space(&self.poll, fd, Token(proxy as usize))
            .and_then(|()| reads.attach(proxy, &conn.inbox, fd));
        if let Err(e) = moved {
            self.connection_failed(
                proxy,
                Error::communication(format!("cannot watch the socket: {e}")),
            );
        }
    }

    /// Oneway calls complete (with None) once their bytes are written.
    fn complete_written_oneway(&mut self, proxy: ProxyId) {
        let Some(conn) = self.proxies.get_mut(&proxy).and_then(|st| st.conn.as_mut()) else {
            return;
        };
        let mut done = Vec::new();
        conn.take_written_oneway(&mut done);
        for call in done {
            self.shared.finish(call, Ok(Reply::value(Value::None)));
        }
    }

    fn start_connect(&mut self, proxy: ProxyId) {
        let ns = self.ns.clone();
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        st.attempt += 1;
        let attempt = st.attempt;
        let target = match (&st.uri, &st.resolved) {
            (Uri::Direct(t), _) | (_, Some(t)) => t.clone(),
            (uri, None) => {
                // Named proxy: resolve off this thread, then come back.
                st.busy = true;
                let uri = uri.clone();
                let handle = self.handle.clone();
                self.workers.run(Box::new(move || {
                    let result = resolve::resolve(&ns, &uri);
                    handle.send(Command::NameResolved {
                        proxy,
                        attempt,
                        result,
                    });
                }));
                // A patient proxy retrying stays "waiting" until something changes.
                if self.proxies[&proxy].state != Some(ConnState::WaitingForNameServer) {
                    self.set_state(proxy, ConnState::Resolving);
                }
                return;
            }
        };
        match &target.location {
            Location::Unix { path } => {
                let stream = mio::net::UnixStream::connect(path).map(Stream::Unix);
                self.connect_with(proxy, stream);
            }
            Location::Tcp { host, port } => {
                if let Ok(ip) = host.parse::<IpAddr>() {
                    let stream = tcp_stream(&st.config, SocketAddr::new(ip, *port), host);
                    self.connect_with(proxy, stream);
                } else {
                    st.busy = true;
                    let (host, port) = (host.clone(), *port);
                    let handle = self.handle.clone();
                    self.workers.run(Box::new(move || {
                        use std::net::ToSocketAddrs;
                        let result = (host.as_str(), port)
                            .to_socket_addrs()
                            .map(|a| a.collect())
                            .map_err(|e| {
                                Error::communication(format!("cannot resolve host {host:?}: {e}"))
                            });
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

    fn on_name_resolved(&mut self, proxy: ProxyId, attempt: u64, result: Result<Target>) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        if st.attempt != attempt {
            return;
        }
        st.busy = false;
        match result {
            Ok(t) => {
                st.set_resolved(Some(t));
                if !st.queued.is_empty() {
                    self.start_connect(proxy);
                }
            }
            Err(e) => self.not_reachable(proxy, e),
        }
    }

    fn on_resolved(&mut self, proxy: ProxyId, attempt: u64, result: Result<Vec<SocketAddr>>) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        if st.attempt != attempt {
            return;
        }
        st.busy = false;
        match result {
            Ok(addrs) if !addrs.is_empty() => {
                // Prefer IPv4 like Pyro4's socketutil does for "localhost".
                let addr = *addrs.iter().find(|a| a.is_ipv4()).unwrap_or(&addrs[0]);
                let host = match st.target().map(|t| &t.location) {
                    Some(Location::Tcp { host, .. }) => host.clone(),
                    _ => addr.ip().to_string(),
                };
                let stream = tcp_stream(&st.config, addr, &host);
                self.connect_with(proxy, stream);
            }
            Ok(_) => self.not_reachable(proxy, Error::communication("host has no addresses")),
            Err(e) => self.not_reachable(proxy, e),
        }
    }

    fn connect_with(&mut self, proxy: ProxyId, stream: io::Result<Stream>) {
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                return self
                    .not_reachable(proxy, Error::communication(format!("cannot connect: {e}")))
            }
        };
        let token = Token(proxy as usize);
        if let Err(e) = self.poll.registry().register(
            stream.source(),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return self.not_reachable(
                proxy,
                Error::communication(format!("cannot register socket: {e}")),
            );
        }
        let max = self.max_message_size;
        let st = self.proxies.get_mut(&proxy).expect("proxy exists");
        let object = st
            .target()
            .expect("connecting means a target")
            .object
            .clone();
        let conn = Connection::new(
            stream,
            &object,
            st.config.serializer,
            st.config.link.wire.lock().unwrap().clone(),
            max,
        );
        st.conn = Some(conn);
        let attempt = st.attempt;
        if !self.connect_timeout.is_zero() {
            self.add_timer(
                Instant::now() + self.connect_timeout,
                proxy,
                TimerKind::Connect { attempt },
            );
        }
        self.set_state(proxy, ConnState::Connecting);
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
            match result {
                Ok(()) => self.complete_written_oneway(proxy),
                Err(e) => self.connection_failed(proxy, e),
            }
        }
        self.dirty = dirty;
    }

    fn on_socket(&mut self, proxy: ProxyId, readable: bool, writable: bool, closing: bool) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        let Some(conn) = st.conn.as_mut() else { return };
        let (mut readable, mut closing) = (readable, closing);
        let host_reads = self.shared.dispatch_reads().is_some();
        if host_reads && !closing && conn.inbox.lock().unwrap().is_attached() {
            // The host reads this socket; this thread only looks for the end of it.
            closing = conn.plain_fd().is_some_and(peer_closed);
            readable = closing;
        }
        let mut events = std::mem::take(&mut self.events_scratch);
        let result = conn.on_ready(readable, writable, closing, &mut events);
        let mut connected = false;
        for ev in events.drain(..) {
            match ev {
                Event::Connected(info) => {
                    *st.config.link.info.lock().unwrap() = Some(info.clone());
                    st.meta = Some(info);
                    connected = true;
                }
                Event::Reply { call, outcome } => {
                    super::decode::deliver(&self.shared, proxy, call, outcome, false);
                }
            }
        }
        self.events_scratch = events;
        if connected {
            st.tries = 0;
            let label = st.label();
            self.shared.log(super::context::LogLevel::Info, || {
                format!("{label}: connected, handshake done")
            });
            self.set_state(proxy, ConnState::Connected);
            self.drain_queue_into_conn(proxy);
            self.open_lane(proxy);
            self.set_reader(proxy);
        }
        match result {
            Ok(()) if writable => self.complete_written_oneway(proxy),
            Ok(()) => {}
            Err(e) => self.connection_failed(proxy, e),
        }
    }

    fn fire_timers(&mut self) {
        if self.timers.is_empty() {
            return;
        }
        let now = Instant::now();
        while let Some(Reverse(t)) = self.timers.peek() {
            if t.at > now {
                break;
            }
            let Reverse(t) = self.timers.pop().unwrap();
            let Some(st) = self.proxies.get_mut(&t.proxy) else {
                continue;
            };
            match t.kind {
                TimerKind::Connect { attempt } => {
                    if st.attempt == attempt && st.conn.as_ref().is_some_and(|c| !c.is_ready()) {
                        self.connection_failed(t.proxy, Error::communication("connect timed out"));
                    }
                }
                TimerKind::Retry { attempt } => {
                    if st.attempt == attempt && st.busy {
                        st.busy = false;
                        if st.queued.is_empty() {
                            self.set_state(t.proxy, ConnState::Disconnected);
                        } else {
                            self.start_connect(t.proxy);
                        }
                    }
                }
                TimerKind::Deadline { call } => self.call_deadline(t.proxy, call),
            }
        }
    }

    fn call_deadline(&mut self, proxy: ProxyId, call: CallId) {
        if !self.shared.is_pending(call) {
            return;
        }
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        let timeout = Error::timeout(format!("call timed out ({})", st.label()));
        self.shared.log(super::context::LogLevel::Info, || {
            format!("{}: call {call} timed out", st.label())
        });
        if let Some(pos) = st.queued.iter().position(|q| q.call == call) {
            st.queued.remove(pos);
            return self.shared.finish(call, Err(timeout));
        }
        if st.conn.as_ref().is_some_and(|c| c.is_on_wire(call)) {
            // The deadline fails this call only: the calls sent behind it keep theirs,
            // and new calls go over a fresh connection instead of waiting behind it.
            // Retired before the timeout is reported, so that a call the host makes on
            // hearing of it cannot still take the direct lane onto this connection.
            self.retire_connection(proxy, call);
            return self.shared.finish(call, Err(timeout));
        }
        let drained = self
            .draining
            .iter()
            .find(|(_, d)| d.proxy == proxy && d.conn.is_on_wire(call))
            .map(|(t, _)| *t);
        if let Some(token) = drained {
            self.shared.finish(call, Err(timeout));
            if let Some(d) = self.draining.get_mut(&token) {
                d.timed_out.push(call);
            }
            return self.drop_draining_if_done(token);
        }
        // Its reply is in (being decoded on the decode pool, or queued for dispatch):
        // the deadline still holds; whichever outcome is queued first is delivered, and
        // a decode that finishes later is dropped.
        self.shared.finish(call, Err(timeout));
    }

    /// Take the proxy's connection out of service after one of its calls timed out (see
    /// [`Draining`]); the proxy's next call connects afresh.
    fn retire_connection(&mut self, proxy: ProxyId, timed_out: CallId) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        let Some(mut conn) = st.conn.take() else {
            return;
        };
        conn.take_back();
        if let Some(reads) = self.shared.dispatch_reads() {
            reads.forget(proxy);
        }
        let token = self.next_drain_token;
        self.next_drain_token += 1;
        let moved = self.poll.registry().reregister(
            conn.stream.source(),
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        );
        self.shared.log(super::context::LogLevel::Info, || {
            format!(
                "{}: a call timed out; its connection is retired once the calls on it are answered",
                st.label()
            )
        });
        let queued = !st.queued.is_empty();
        self.draining.insert(
            token,
            Draining {
                proxy,
                conn,
                timed_out: vec![timed_out],
            },
        );
        match moved {
            Ok(()) => self.drop_draining_if_done(token),
            Err(e) => self.fail_draining(token, Error::communication(format!("{e}"))),
        }
        if queued {
            self.start_connect(proxy);
        } else {
            self.set_state(proxy, ConnState::Disconnected);
        }
    }

    fn on_draining_socket(&mut self, token: usize, readable: bool, writable: bool, closing: bool) {
        let Some(d) = self.draining.get_mut(&token) else {
            return;
        };
        let mut events = std::mem::take(&mut self.events_scratch);
        let result = d.conn.on_ready(readable, writable, closing, &mut events);
        let proxy = d.proxy;
        for ev in events.drain(..) {
            if let Event::Reply { call, outcome } = ev {
                super::decode::deliver(&self.shared, proxy, call, outcome, false);
            }
        }
        self.events_scratch = events;
        let mut done = Vec::new();
        d.conn.take_written_oneway(&mut done);
        for call in done {
            self.shared.finish(call, Ok(Reply::value(Value::None)));
        }
        match result {
            Ok(()) => self.drop_draining_if_done(token),
            Err(e) => self.fail_draining(token, e),
        }
    }

    fn drop_draining_if_done(&mut self, token: usize) {
        let shared = &self.shared;
        let done = self.draining.get(&token).is_some_and(|d| {
            !d.conn
                .awaits_any(|c| !d.timed_out.contains(&c) && shared.is_pending(c))
        });
        if done {
            if let Some(mut d) = self.draining.remove(&token) {
                let _ = self.poll.registry().deregister(d.conn.stream.source());
            }
        }
    }

    /// A draining connection failed: the calls still on it fail (they were sent before
    /// the retirement and are not sent again).
    fn fail_draining(&mut self, token: usize, err: Error) {
        if let Some(mut d) = self.draining.remove(&token) {
            let _ = self.poll.registry().deregister(d.conn.stream.source());
            let err = with_context(err, "connection retired after a timeout");
            for u in d.conn.take_unfinished() {
                self.shared.finish(u.call, Err(err.clone()));
            }
        }
    }

    /// Drop a proxy's draining connections, failing what is still on them with `err`.
    fn fail_proxy_draining(&mut self, proxy: ProxyId, err: &Error) {
        let tokens: Vec<usize> = self
            .draining
            .iter()
            .filter(|(_, d)| d.proxy == proxy)
            .map(|(t, _)| *t)
            .collect();
        for t in tokens {
            self.fail_draining(t, err.clone());
        }
    }

    /// Take every call of the proxy off its connection and queue (the connection, if
    /// any, is dropped): (call, request if it can be re-sent).
    fn take_calls(&mut self, st: &mut ProxyState) -> Vec<(CallId, Option<Unfinished>)> {
        let mut out = Vec::new();
        if let Some(mut c) = st.conn.take() {
            let _ = self.poll.registry().deregister(c.stream.source());
            out.extend(c.take_unfinished().into_iter().map(|u| (u.call, Some(u))));
        }
        out.extend(st.queued.drain(..).map(|q| (q.call, None)));
        out
    }

    /// A connection failed. Calls that never reached the server are kept (patience) or
    /// failed; calls on the wire are retried while they have retries left, else failed.
    fn connection_failed(&mut self, proxy: ProxyId, err: Error) {
        let Some(mut st) = self.proxies.remove(&proxy) else {
            return;
        };
        let had_connected = st.conn.as_ref().is_some_and(|c| c.is_ready());
        let err = with_context(err, &st.label());
        let level = if err.kind == ErrorKind::Protocol || err.kind == ErrorKind::Security {
            super::context::LogLevel::Error
        } else {
            super::context::LogLevel::Warning
        };
        self.shared
            .log(level, || format!("connection failed: {}", err.message));
        let mut keep: VecDeque<Queued> = VecDeque::new();
        let queued: Vec<Queued> = st.queued.drain(..).collect();
        let unfinished = st.conn.take().map(|mut c| {
            let _ = self.poll.registry().deregister(c.stream.source());
            c.take_unfinished()
        });
        for u in unfinished.into_iter().flatten() {
            match u.resend {
                Some((m, r)) if err.kind == ErrorKind::Communication && had_connected => {
                    self.shared.log(super::context::LogLevel::Info, || {
                        format!(
                            "{}: call {} is retried on a new connection ({} retries left)",
                            st.label(),
                            u.call,
                            r.left - 1
                        )
                    });
                    keep.push_back(Queued {
                        call: u.call,
                        payload: Payload::Encoded(m),
                        info: r.info,
                        left: r.left - 1,
                    });
                }
                _ => self.shared.finish(u.call, Err(err.clone())),
            }
        }
        keep.extend(queued);
        st.queued = keep;
        // The object may have moved: a named proxy looks its name up again.
        if !matches!(st.uri, Uri::Direct(_)) {
            st.set_resolved(None);
        }
        self.proxies.insert(proxy, st);
        self.set_state(proxy, ConnState::Disconnected);
        if had_connected {
            // Calls still queued (never written, or being retried) go on a fresh connection.
            if !self.proxies[&proxy].queued.is_empty() {
                self.start_connect(proxy);
            }
        } else {
            self.not_reachable(proxy, err);
        }
    }

    /// Resolution or connecting failed before a connection worked: a patient proxy waits
    /// and tries again (a timer, no thread); otherwise the queued calls fail.
    fn not_reachable(&mut self, proxy: ProxyId, err: Error) {
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        let label = st.label();
        self.shared.log(super::context::LogLevel::Info, || {
            format!("{label} not reachable: {}", err.message)
        });
        let Some(st) = self.proxies.get_mut(&proxy) else {
            return;
        };
        if let Some(mut c) = st.conn.take() {
            let _ = self.poll.registry().deregister(c.stream.source());
            for u in c.take_unfinished() {
                self.shared.finish(u.call, Err(err.clone()));
            }
        }
        st.busy = false;
        st.tries += 1;
        if let Some(p) = st.config.patience {
            // Cancelled calls need no waiting for.
            let shared = &self.shared;
            st.queued.retain(|q| shared.is_pending(q.call));
            if st.tries < p.max_tries && !st.queued.is_empty() {
                st.busy = true;
                let attempt = st.attempt;
                let waiting = if matches!(st.uri, Uri::Direct(_)) || err.kind == ErrorKind::Naming {
                    ConnState::WaitingForNameServer
                } else {
                    ConnState::Disconnected
                };
                self.shared.log(super::context::LogLevel::Info, || {
                    format!(
                        "{label}: trying again in {} ms (try {} of {})",
                        p.interval.as_millis(),
                        st.tries + 1,
                        p.max_tries
                    )
                });
                self.add_timer(
                    Instant::now() + p.interval,
                    proxy,
                    TimerKind::Retry { attempt },
                );
                self.set_state(proxy, waiting);
                return;
            }
        }
        st.tries = 0;
        let label = st.label();
        let err = with_context(err, &label);
        let calls: Vec<CallId> = st.queued.drain(..).map(|q| q.call).collect();
        for call in calls {
            self.shared.finish(call, Err(err.clone()));
        }
        self.set_state(proxy, ConnState::Disconnected);
    }

    fn fail_everything(&mut self, err: Error) {
        let tokens: Vec<usize> = self.draining.keys().copied().collect();
        for t in tokens {
            self.fail_draining(t, err.clone());
        }
        let ids: Vec<ProxyId> = self.proxies.keys().copied().collect();
        for id in ids {
            if let Some(mut st) = self.proxies.remove(&id) {
                for (call, _) in self.take_calls(&mut st) {
                    self.shared.finish(call, Err(err.clone()));
                }
            }
        }
    }
}

/// How the server's metadata says a call must travel.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    Invoke,
    Oneway,
    /// Not exposed by the remote object: refused here, without a round trip.
    Unknown,
}

pub(crate) fn route(meta: &ConnectInfo, info: &CallInfo) -> Route {
    if meta.is_oneway(&info.method) {
        return Route::Oneway;
    }
    let restricted = !meta.methods.is_empty() || !meta.attrs.is_empty();
    let special = info.method.starts_with("__") || info.flags & FLAGS_BATCH != 0;
    if restricted && !special && !meta.has_method(&info.method) {
        return Route::Unknown;
    }
    Route::Invoke
}

fn unknown_method(object: &str, method: &str) -> Error {
    Error::invalid(format!(
        "remote object '{object}' has no exposed attribute or method '{method}'"
    ))
}

/// A non-blocking TCP connection, wrapped in TLS when the proxy is configured for it
/// (the certificate is checked against `host`, the name or address in the URI).
fn tcp_stream(config: &ProxyConfig, addr: SocketAddr, host: &str) -> io::Result<Stream> {
    let sock = mio::net::TcpStream::connect(addr)?;
    let tls = config.link.tls.lock().unwrap().clone();
    match tls {
        None => Ok(Stream::Tcp(sock)),
        Some(cfg) => crate::client::tls::TlsStream::new(cfg, host, sock)
            .map(|t| Stream::Tls(Box::new(t)))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.message)),
    }
}

/// Watch a socket whose replies the host reads for write space and the peer's FIN only
/// (edge-triggered, as mio registers; no EPOLLIN, so arriving replies wake nobody here).
#[cfg(target_os = "linux")]
fn watch_close_and_space(poll: &Poll, fd: std::os::fd::RawFd, token: Token) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
        u64: token.0 as u64,
    };
    // SAFETY: mio's epoll fd and a socket registered with it; mio keeps no state of its
    // own per registration on Linux, so a later reregister or deregister still works.
    if unsafe { libc::epoll_ctl(poll.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reading in dispatch is refused before it gets here on other systems.
#[cfg(not(target_os = "linux"))]
fn watch_close_and_space(_poll: &Poll, _fd: std::os::fd::RawFd, _token: Token) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Whether the peer has closed its end (a zero-byte peek); unread replies are left alone.
fn peer_closed(fd: std::os::fd::RawFd) -> bool {
    let mut b = 0u8;
    // SAFETY: one byte into a valid local; non-blocking peek.
    let n = unsafe {
        libc::recv(
            fd,
            &mut b as *mut u8 as *mut libc::c_void,
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n == 0 || (n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock)
}

/// Name the endpoint in connection errors, so a log line says which server failed.
fn with_context(mut err: Error, label: &str) -> Error {
    // Only once: the same error passes here again when a failed connection leaves calls
    // unreachable. A server's reason may end in ')' of its own.
    let suffix = format!(" ({label})");
    if matches!(err.kind, ErrorKind::Communication | ErrorKind::Protocol)
        && !err.message.ends_with(&suffix)
    {
        err.message.push_str(&suffix);
    }
    err
}
