//! The context: call registry, completion queue, dispatch, cancellation, teardown.
//!
//! Exactly-once rests on one rule: a call's callback lives in `calls` until someone
//! removes it, and only the remover may run it. Results from the I/O thread carry just
//! the call id; dispatch removes the entry (a cancelled call's entry is already gone, so
//! its late result is dropped). Cancel and teardown remove entries and queue the
//! callback itself with a CANCELLED error.

use super::completion::CompletionQueue;
use super::dispatch_reads::DispatchReads;
use super::id_map::IdMap;
use super::reactor::{self, CallInfo, Command, ConfigChange, Payload, ReactorHandle};
use super::signal_fd::SignalFd;
pub use crate::client::outbox::CallKind;
use crate::client::outbox::{Expect, Outbox, Resend};
use crate::client::target::Uri;
use crate::client::wire::{self, ConnectInfo, WireOptions};
use crate::error::{Error, Result};
use crate::naming::resolve::NsConfig;
use crate::protocol::Annotations;
use crate::protocol::FLAGS_ONEWAY;
use crate::serial::SerializerId;
use crate::value::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub type CallId = u64;
pub type ProxyId = u64;

/// What a finished call delivers to its callback.
pub type Outcome = std::result::Result<Reply, Error>;

/// A successful reply: the value and the response annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub value: Value,
    pub annotations: Annotations,
}

impl Reply {
    pub fn value(value: Value) -> Reply {
        Reply {
            value,
            annotations: Vec::new(),
        }
    }
}

pub type Callback = Box<dyn FnOnce(Outcome) + Send>;

struct CallEntry {
    proxy: ProxyId,
    callback: Callback,
}

pub(crate) enum Done {
    /// Produced by the I/O side; the entry is claimed at dispatch.
    Finished { id: CallId, outcome: Outcome },
    /// Already claimed (cancel, proxy free): run as is.
    Claimed {
        callback: Callback,
        outcome: Outcome,
    },
}

/// Context-wide settings. Every field has a documented default.
#[derive(Debug, Clone)]
pub struct ContextOptions {
    /// Serializer for new proxies (default serpent, or `PYRO_SERIALIZER`).
    pub serializer: SerializerId,
    /// Largest message in either direction, compressed or not (default 64 MiB); see
    /// `pyro_ctx_options.max_message_size` for all it bounds.
    pub max_message_size: usize,
    /// Connect timeout (default 10 s; 0 = none).
    pub connect_timeout: Duration,
    /// Threads for blocking work such as host-name resolution (default 2, at most 16).
    pub worker_threads: usize,
    /// How to find the name server (PYRO_NS_HOST, PYRO_NS_PORT, PYRO_NS_BCPORT,
    /// PYRO_BROADCAST_ADDRS).
    pub ns: NsConfig,
    /// Patience for new proxies (default off).
    pub patience: Option<Patience>,
    /// Times a call that failed on a dead connection is retried on a fresh one
    /// (Pyro4's MAX_RETRIES, `PYRO_MAX_RETRIES`; default 0). A retried call may run twice.
    pub max_retries: u32,
    /// Default deadline for calls of new proxies (`PYRO_COMMTIMEOUT`; default none).
    pub call_timeout: Option<Duration>,
}

/// How a patient proxy waits for a name (or its server) to appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patience {
    pub interval: Duration,
    pub max_tries: u32,
}

impl Default for Patience {
    /// Every 2 s, 43,200 tries: at least 24 hours.
    fn default() -> Self {
        Patience {
            interval: Duration::from_millis(2000),
            max_tries: 43_200,
        }
    }
}

/// Connection states reported to a proxy's state callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub enum ConnState {
    Resolving = 1,
    WaitingForNameServer = 2,
    Connecting = 3,
    Connected = 4,
    Disconnected = 5,
}

pub type StateCallback = Arc<dyn Fn(ConnState) + Send + Sync>;

impl Default for ContextOptions {
    fn default() -> Self {
        ContextOptions {
            serializer: SerializerId::Serpent,
            max_message_size: crate::protocol::DEFAULT_MAX_MESSAGE_SIZE,
            connect_timeout: Duration::from_secs(10),
            worker_threads: 2,
            ns: NsConfig::default(),
            patience: None,
            max_retries: 0,
            call_timeout: None,
        }
    }
}

impl ContextOptions {
    /// The defaults, adjusted by Pyro4's own environment variables where set
    /// (`PYRO_SERIALIZER`), so an existing Pyro setup carries over.
    pub fn from_env() -> ContextOptions {
        let mut o = ContextOptions::default();
        if let Ok(name) = std::env::var("PYRO_SERIALIZER") {
            if let Some(s) = SerializerId::from_name(&name) {
                o.serializer = s;
            }
        }
        o.ns = NsConfig::from_env();
        if let Some(n) = std::env::var("PYRO_MAX_RETRIES")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            o.max_retries = n;
        }
        if let Some(t) = std::env::var("PYRO_COMMTIMEOUT")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
        {
            if t > 0.0 && t.is_finite() {
                o.call_timeout = Some(Duration::from_secs_f64(t));
            }
        }
        o
    }
}

/// Log levels, as in the C header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error = 1,
    Warning = 2,
    Info = 3,
    Debug = 4,
}

pub type LogCallback = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

pub(crate) struct Shared {
    calls: Mutex<IdMap<CallEntry>>,
    /// Where library messages go (delivered through dispatch), and the most verbose level.
    log: Mutex<Option<(LogLevel, LogCallback)>>,
    /// `PYRO_LOGLEVEL`'s log, used while the host has no log callback.
    env_log: Option<super::env_log::EnvLog>,
    /// Active item streams, by the id returned for them.
    streams: Mutex<HashMap<CallId, super::stream::SharedStream>>,
    queue: CompletionQueue<Done>,
    next_call: AtomicU64,
    next_proxy: AtomicU64,
    /// Busy-poll window of the I/O thread in microseconds (0 = off).
    busy_poll_us: AtomicU64,
    /// Deadlines of calls written on direct lanes, for the I/O thread's timer heap.
    deadlines: Mutex<Vec<(Instant, ProxyId, CallId)>>,
    /// Timers the I/O thread holds (diagnostics).
    timers: AtomicUsize,
    /// When the I/O thread wakes next for a timer (ns since `epoch`; u64::MAX: never).
    next_timer: AtomicU64,
    epoch: Instant,
    closed: AtomicBool,
    /// Closing was asked for inside a callback: new work is refused, and the context
    /// closes when the outermost dispatch round on that thread ends.
    close_requested: AtomicBool,
    /// Run once the deferred close is done (a C handle's last reference, released only
    /// after the teardown callbacks, which may still name it).
    after_close: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    /// The I/O thread, joined by whoever closes the context (a dispatch round that ends
    /// a deferred close may hold only the shared state, not the `Context`).
    io_thread: Mutex<Option<JoinHandle<()>>>,
    /// The process the context was made in; in a forked child it is unusable.
    owner_pid: i32,
    /// Replies are read in dispatch (opt-in, set before the fd is handed out).
    dispatch_reads: OnceLock<DispatchReads>,
    /// `fd()` has been called: what the host polls can no longer change.
    fd_taken: AtomicBool,
    /// Held while `fd()` hands out its first answer or the reply mode changes, so a host
    /// can never be given the eventfd of a context that then reads in dispatch.
    fd_choice: Mutex<()>,
    /// Replies too big to decode where they were read.
    pub(crate) decodes: super::decode::DecodePool,
    pub(crate) reactor: ReactorHandle,
    pub(crate) options: ContextOptions,
}

impl Shared {
    /// Called by the I/O side when a call finished (any outcome).
    pub(crate) fn finish(&self, id: CallId, outcome: Outcome) {
        self.queue.push(Done::Finished { id, outcome });
    }

    /// Whether the completion fd has been (or is about to be) raised since the last reset.
    pub(crate) fn queue_signaled(&self) -> bool {
        self.queue.is_signaled()
    }

    /// A reply read by the dispatching thread itself, before its round pops.
    pub(crate) fn finish_here(&self, id: CallId, outcome: Outcome) {
        self.queue.push_quiet(Done::Finished { id, outcome });
    }

    /// The set the host polls when replies are read in dispatch (None: the default,
    /// the I/O thread reads them).
    pub(crate) fn dispatch_reads(&self) -> Option<&DispatchReads> {
        self.dispatch_reads.get()
    }

    /// Run `f` on the dispatching thread (state callbacks, posted work).
    pub(crate) fn post(&self, f: Box<dyn FnOnce() + Send>) {
        self.queue.push(Done::Claimed {
            callback: Box::new(move |_| f()),
            outcome: Err(Error::cancelled()),
        });
    }

    /// Whether `key` is the first call of a stream still running.
    pub(crate) fn is_stream(&self, key: CallId) -> bool {
        self.streams.lock().unwrap().contains_key(&key)
    }

    pub(crate) fn unregister_stream(&self, key: CallId) {
        self.streams.lock().unwrap().remove(&key);
    }

    /// Report a library message to the host's log callback (through dispatch), or else
    /// to `PYRO_LOGLEVEL`'s log (at once). `message` runs only if someone listens.
    pub(crate) fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        let sink = self.log.lock().unwrap().clone();
        match sink {
            Some((max, cb)) => {
                if level <= max {
                    let text = message();
                    self.post(Box::new(move || cb(level, &text)));
                }
            }
            None => {
                if let Some(env) = self.env_log.as_ref().filter(|e| e.enabled(level)) {
                    env.write(level, &message());
                }
            }
        }
    }

    /// A direct call's deadline. The I/O thread is woken only when it would otherwise
    /// sleep past it: with a proxy's fixed timeout, deadlines only grow, so a steady
    /// stream of calls costs no wake-ups.
    pub(crate) fn add_deadline(&self, at: Instant, proxy: ProxyId, call: CallId) {
        self.deadlines.lock().unwrap().push((at, proxy, call));
        // Pairs with the fence in `publish_next_timer` (Dekker): either the I/O thread
        // sees this deadline before it sleeps, or this thread sees its wake-up time.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.nanos(at) < self.next_timer.load(Ordering::SeqCst) {
            self.reactor.send(Command::Wake);
        }
    }

    /// The I/O thread takes the direct calls' deadlines into its timer heap.
    pub(crate) fn take_deadlines(&self) -> Vec<(Instant, ProxyId, CallId)> {
        std::mem::take(&mut *self.deadlines.lock().unwrap())
    }

    /// The I/O thread says when it wakes next; true if deadlines came in meanwhile (it
    /// must take them before sleeping).
    pub(crate) fn publish_next_timer(&self, at: Option<Instant>) -> bool {
        self.next_timer
            .store(at.map_or(u64::MAX, |t| self.nanos(t)), Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        !self.deadlines.lock().unwrap().is_empty()
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    pub(crate) fn busy_poll_us(&self) -> u64 {
        self.busy_poll_us.load(Ordering::Relaxed)
    }

    /// Drop a pending call without any callback (its owner reports the outcome).
    pub(crate) fn cancel_silently(&self, id: CallId) {
        self.calls.lock().unwrap().remove(&id);
    }

    pub(crate) fn note_timers(&self, n: usize) {
        self.timers.store(n, Ordering::Relaxed);
    }

    /// Run `f` with a test for "this call is still waiting" (one lock for many tests).
    pub(crate) fn with_pending<R>(&self, f: impl FnOnce(&dyn Fn(CallId) -> bool) -> R) -> R {
        let calls = self.calls.lock().unwrap();
        f(&|id| calls.contains_key(&id))
    }

    /// Whether the call is still waiting for its outcome (not cancelled).
    pub(crate) fn is_pending(&self, id: CallId) -> bool {
        self.calls.lock().unwrap().contains_key(&id)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Whether this is a child process forked after the context was made: its threads
    /// are not here, and a lock they held at the fork stays held.
    pub(crate) fn forked(&self) -> bool {
        self.owner_pid != super::threads::current_pid()
    }

    fn forked_error(&self) -> Error {
        Error::invalid(format!(
            "this context was created in process {} and cannot be used in process {}, a child \
             forked from it: its I/O thread exists only in the parent (make a new context \
             in the child)",
            self.owner_pid,
            super::threads::current_pid()
        ))
    }

    /// Whether new calls, proxies and posted work are taken.
    fn accepting(&self) -> Result<()> {
        if self.forked() {
            return Err(self.forked_error());
        }
        if self.closed.load(Ordering::SeqCst) || self.close_requested.load(Ordering::SeqCst) {
            return Err(Error::invalid("context is closed"));
        }
        Ok(())
    }

    /// The current round must stop: a callback asked to close the context.
    fn round_must_stop(&self) -> bool {
        self.close_requested.load(Ordering::SeqCst) && !self.closed.load(Ordering::SeqCst)
    }

    fn key(&self) -> usize {
        self as *const Shared as usize
    }

    /// The fd the host polls (see `Context::fd`).
    fn fd(&self) -> std::os::fd::RawFd {
        if self.forked() {
            return -1;
        }
        // Hosts call this in their loops: the answer is settled after the first call.
        if let Some(r) = self.dispatch_reads() {
            return r.fd();
        }
        if !self.fd_taken.load(Ordering::Acquire) {
            // Settle it against a concurrent `read_replies_in_dispatch`.
            let _settle = self.fd_choice.lock().unwrap();
            self.fd_taken.store(true, Ordering::Release);
            if let Some(r) = self.dispatch_reads() {
                return r.fd();
            }
        }
        self.queue.fd().raw()
    }
}

/// What a thread is doing with the library: one thread-local, so the hot path pays for
/// one lookup (a cdylib's thread-locals go through `__tls_get_addr`).
struct Here {
    /// Contexts this thread is dispatching right now (dispatch may nest).
    dispatching: Vec<usize>,
    /// Outboxes with requests started in callbacks, written when the round ends.
    corked: Vec<Corked>,
}

thread_local! {
    static HERE: RefCell<Here> = const {
        RefCell::new(Here {
            dispatching: Vec::new(),
            corked: Vec::new(),
        })
    };
}

/// A Pyro4 client context: one I/O thread, one completion fd.
pub struct Context {
    shared: Arc<Shared>,
    /// The proxy behind the context-level name-server calls, made on first use.
    ns_proxy: Mutex<Option<Proxy>>,
}

/// A proxy handle: cheap to clone; the connection lives in the I/O thread.
#[derive(Clone)]
pub struct Proxy {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: ProxyId,
    object: Option<Arc<str>>,
    serializer: SerializerId,
    link: Arc<ProxyLink>,
}

/// What a proxy handle and the I/O thread share: message options (read when a request
/// is built or a connection opens), what the server said at the last handshake, and the
/// direct lane to its connection.
#[derive(Default)]
pub(crate) struct ProxyLink {
    pub lane: Mutex<Lane>,
    /// Calls this proxy put on the direct lane (diagnostics).
    pub direct_calls: AtomicU64,
    pub wire: Mutex<WireOptions>,
    pub info: Mutex<Option<ConnectInfo>>,
    /// TLS client configuration (Pyro4 SSL), used from the next connection.
    pub tls: Mutex<Option<Arc<rustls::ClientConfig>>>,
    /// The URI text the proxy was made with.
    pub uri: Box<str>,
    /// The `PYRO:` URI calls go to: fixed for a direct proxy; for a named one, set by the
    /// I/O thread when the name resolves and cleared when it must be looked up again.
    pub resolved: Mutex<Option<String>>,
}

/// The direct lane: a submitting thread puts a plain or oneway call on the proxy's ready
/// connection and writes it to the socket itself, instead of handing it to the I/O
/// thread (which costs a wake-up and a context switch per call). The I/O thread opens
/// the lane when a connection is ready with nothing queued ahead; calls that need its
/// bookkeeping (sending a call again, batches, pings, daemon calls of streams, a named
/// proxy not resolved yet) keep going through it, and a direct call never overtakes one
/// of those still on its way. A retrying proxy's direct call keeps what sending it again
/// takes with its in-flight record, as the I/O thread's calls do.
#[derive(Default)]
pub(crate) struct Lane {
    /// The ready connection's outbox (it refuses direct writes once the connection is gone).
    pub outbox: Option<Arc<Mutex<Outbox>>>,
    /// The object id that connection serves (what a named proxy resolved to).
    pub object: Option<Arc<str>>,
    /// Calls handed to the I/O thread and not yet placed by it.
    pub via_reactor: usize,
    /// The proxy's per-call deadline (direct calls hand theirs to the I/O thread's timers).
    pub timeout: Option<Duration>,
    /// Retries of the proxy's calls (0: none).
    pub retries: u32,
    /// The proxy was freed.
    pub closed: bool,
}

/// Requests started inside a callback stay in their outbox until the dispatch round ends,
/// then go out in one write per connection (what a reply burst triggers is coalesced, as
/// an event loop would do with its write events). A round that piles up this much writes
/// early.
const CORK_LIMIT: usize = 256 * 1024;

const MAX_BUSY_POLL: Duration = Duration::from_millis(10);

struct Corked {
    outbox: Arc<Mutex<Outbox>>,
    shared: Arc<Shared>,
    proxy: ProxyId,
}

/// Write a direct lane's outbox and act on what that did: oneway calls whose bytes went
/// out complete; a failed write is reported to the I/O thread, which fails the connection.
fn write_direct(outbox: &Mutex<Outbox>, shared: &Shared, proxy: ProxyId) {
    let mut oneway = Vec::new();
    let failed = {
        let mut ob = outbox.lock().unwrap();
        if !ob.flush_direct() {
            return; // the connection is gone; its calls are failed by the I/O thread
        }
        ob.take_written_oneway(&mut oneway);
        !ob.is_direct()
    };
    for call in oneway {
        shared.finish(call, Ok(Reply::value(Value::None)));
    }
    if failed {
        shared.reactor.send(Command::LaneFailed(proxy));
    }
}

/// Write everything corked on this thread.
fn uncork(corked: Vec<Corked>) {
    for c in corked {
        write_direct(&c.outbox, &c.shared, c.proxy);
    }
}

/// Per-proxy settings, owned by the I/O thread.
#[derive(Clone)]
pub(crate) struct ProxyConfig {
    pub link: Arc<ProxyLink>,
    pub serializer: SerializerId,
    pub patience: Option<Patience>,
    pub max_retries: u32,
    pub timeout: Option<Duration>,
    pub state_cb: Option<StateCallback>,
}

impl Context {
    pub fn new(options: ContextOptions) -> Result<Context> {
        let queue = CompletionQueue::new()
            .map_err(|e| Error::communication(format!("cannot create completion fd: {e}")))?;
        let (reactor, runner) = reactor::new(&options)
            .map_err(|e| Error::communication(format!("cannot create I/O poller: {e}")))?;
        let shared = Arc::new(Shared {
            calls: Mutex::new(IdMap::default()),
            log: Mutex::new(None),
            env_log: super::env_log::EnvLog::from_env(),
            streams: Mutex::new(HashMap::new()),
            queue,
            next_call: AtomicU64::new(1),
            next_proxy: AtomicU64::new(1),
            busy_poll_us: AtomicU64::new(0),
            deadlines: Mutex::new(Vec::new()),
            next_timer: AtomicU64::new(u64::MAX),
            timers: AtomicUsize::new(0),
            epoch: Instant::now(),
            closed: AtomicBool::new(false),
            close_requested: AtomicBool::new(false),
            after_close: Mutex::new(Vec::new()),
            io_thread: Mutex::new(None),
            owner_pid: super::threads::owner_pid(),
            dispatch_reads: OnceLock::new(),
            fd_taken: AtomicBool::new(false),
            fd_choice: Mutex::new(()),
            decodes: super::decode::DecodePool::new(),
            reactor,
            options,
        });
        let io_thread = runner
            .spawn(shared.clone())
            .map_err(|e| Error::communication(format!("cannot start I/O thread: {e}")))?;
        *shared.io_thread.lock().unwrap() = Some(io_thread);
        Ok(Context {
            shared,
            ns_proxy: Mutex::new(None),
        })
    }

    /// The fd that is readable while completions are pending (and, when replies are
    /// read in dispatch, also while reply bytes wait on a connection). The same fd for
    /// the context's whole life, closed ones included; -1 in a forked child.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.shared.fd()
    }

    /// Whether this process is a child forked after the context was made (where every
    /// use of it is refused).
    pub fn is_forked(&self) -> bool {
        self.shared.forked()
    }

    /// Whether the context takes no more work: closed, closing at the end of the current
    /// round, or the parent's context in a forked child.
    pub fn is_closed(&self) -> bool {
        self.shared.accepting().is_err()
    }

    /// Read replies on the dispatching thread instead of the I/O thread (Linux only;
    /// off by default). Each reply then costs one thread wake-up instead of two. The fd
    /// becomes an epoll set of the completion fd and the connections' sockets, readable
    /// while completions are pending or reply bytes have arrived, so a dispatch may run
    /// no callback when only part of a reply is in. Replies wait in the socket until
    /// dispatch runs, as completions wait in the queue. TLS connections keep being read
    /// by the I/O thread. Must be called before `fd()`; once on, it stays on.
    pub fn read_replies_in_dispatch(&self) -> Result<()> {
        if self.shared.forked() {
            return Err(self.shared.forked_error());
        }
        let _settle = self.shared.fd_choice.lock().unwrap();
        if self.shared.dispatch_reads().is_some() {
            return Ok(());
        }
        if self.shared.fd_taken.load(Ordering::Acquire) {
            return Err(Error::invalid(
                "replies can be moved to dispatch only before the fd is handed out",
            ));
        }
        let reads = DispatchReads::new(self.shared.queue.fd().raw())
            .map_err(|e| Error::invalid(format!("cannot read replies in dispatch: {e}")))?;
        // Empty: checked under the lock. Connections already open move over when they
        // next connect.
        let _ = self.shared.dispatch_reads.set(reads);
        Ok(())
    }

    pub fn options(&self) -> &ContextOptions {
        &self.shared.options
    }

    /// Timers (call deadlines, connect deadlines, patient retries) the I/O thread holds,
    /// as of its last round. Diagnostics.
    pub fn timer_count(&self) -> usize {
        self.shared.timers.load(Ordering::Relaxed)
    }

    /// Proxies with a reply on the decode pool (replies too big to decode where they
    /// were read). Diagnostics.
    pub fn decodes_in_progress(&self) -> usize {
        self.shared.decodes.busy_lanes()
    }

    /// Number of completions waiting for dispatch.
    pub fn pending_completions(&self) -> usize {
        self.shared.queue.len()
    }

    /// Create a proxy for `uri` (no I/O happens until the first call).
    pub fn proxy(&self, uri: &str) -> Result<Proxy> {
        self.shared.accepting()?;
        let given = uri;
        let uri = Uri::parse(given)?;
        let id = self.shared.next_proxy.fetch_add(1, Ordering::Relaxed);
        let serializer = self.shared.options.serializer;
        // Direct proxies encode calls on the caller's thread; named ones only learn their
        // object id when resolved, so the I/O thread encodes theirs.
        let object: Option<Arc<str>> = match &uri {
            Uri::Direct(t) => Some(t.object.as_str().into()),
            _ => None,
        };
        let o = &self.shared.options;
        let link = Arc::new(ProxyLink {
            uri: given.into(),
            resolved: Mutex::new(match &uri {
                Uri::Direct(t) => Some(t.display()),
                _ => None,
            }),
            ..ProxyLink::default()
        });
        {
            let mut lane = link.lane.lock().unwrap();
            lane.timeout = o.call_timeout;
            lane.retries = o.max_retries;
        }
        let config = ProxyConfig {
            link: link.clone(),
            serializer,
            patience: o.patience,
            max_retries: o.max_retries,
            timeout: o.call_timeout,
            state_cb: None,
        };
        self.shared
            .reactor
            .send(Command::NewProxy { id, uri, config });
        Ok(Proxy {
            link,
            shared: self.shared.clone(),
            id,
            object,
            serializer,
        })
    }

    /// The context's own name-server proxy (located as configured, on first call).
    pub fn name_server(&self) -> Result<Proxy> {
        self.shared.accepting()?;
        let mut slot = self.ns_proxy.lock().unwrap();
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let p = self.proxy(&format!(
            "PYRONAME:{}",
            crate::naming::resolve::NAMESERVER_NAME
        ))?;
        *slot = Some(p.clone());
        Ok(p)
    }

    /// Run up to `max` callbacks (0 = all pending) on this thread; returns how many ran.
    /// If a callback closed the context, the round stops after it and the context closes
    /// before this returns (the callbacks of that teardown are counted too). 0 in a
    /// forked child, where nothing is run or read.
    pub fn dispatch(&self, max: usize) -> usize {
        dispatch(&self.shared, max)
    }

    /// Let the I/O thread poll without sleeping for up to `window` after socket activity
    /// (zero: off, the default). A reply that comes within the window is seen without a
    /// wake-up, which lowers latency against fast servers at the price of CPU spent
    /// spinning. At most 10 ms.
    pub fn set_busy_poll(&self, window: Duration) -> Result<()> {
        if self.shared.forked() {
            return Err(self.shared.forked_error());
        }
        if window > MAX_BUSY_POLL {
            return Err(Error::invalid(format!(
                "busy-poll window of {window:?} exceeds the maximum of 10 ms"
            )));
        }
        self.shared
            .busy_poll_us
            .store(window.as_micros() as u64, Ordering::Relaxed);
        // Wake the I/O thread so a new window applies from now.
        self.shared.reactor.send(Command::Wake);
        Ok(())
    }

    /// Route library messages at `max` level and below to `cb`, called inside dispatch
    /// like every callback (None: stop).
    pub fn set_log_callback(&self, max: LogLevel, cb: Option<LogCallback>) {
        if self.shared.forked() {
            return;
        }
        *self.shared.log.lock().unwrap() = cb.map(|cb| (max, cb));
    }

    /// Run `f` on the dispatching thread at the next `dispatch` (or during `close`).
    /// Returns false (and drops `f` uncalled) once the context is closed.
    pub fn post(&self, f: Box<dyn FnOnce() + Send>) -> bool {
        if self.shared.accepting().is_err() {
            return false;
        }
        self.shared.queue.push(Done::Claimed {
            callback: Box::new(move |_| f()),
            outcome: Err(Error::cancelled()),
        });
        true
    }

    /// Cancel a pending call: its callback gets CANCELLED at the next dispatch.
    /// Returns false if the call already completed (or never existed).
    pub fn cancel(&self, id: CallId) -> bool {
        if self.shared.forked() {
            return false;
        }
        let stream = self.shared.streams.lock().unwrap().remove(&id);
        if let Some(s) = stream {
            let shared = self.shared.clone();
            return super::stream::cancel(&s, |f| shared.post(f));
        }
        cancel_call(&self.shared, id)
    }

    /// Whether this thread is inside a callback dispatched by this context (including
    /// the callbacks its teardown runs).
    pub fn in_dispatch(&self) -> bool {
        self.shared.in_dispatch()
    }

    /// Tear down: stop I/O, then run every outstanding callback here (real outcomes that
    /// had already arrived, CANCELLED for the rest). No callback runs after this returns.
    ///
    /// From inside one of this context's callbacks the teardown is deferred, as hiredis
    /// does: new calls, proxies and posted work are refused from now on, the dispatch
    /// round stops after the current callback, and the teardown runs when the outermost
    /// dispatch on this thread ends, before it returns. Every outstanding call still gets
    /// its one callback then.
    ///
    /// Err only in a forked child, where nothing is stopped, joined or run: the
    /// context's threads and calls belong to the parent.
    pub fn close(&self) -> Result<()> {
        self.close_then(None)
    }

    /// `close`, then run `after` once the teardown is done (at once if it is done
    /// already, or deferred with it when called inside a callback).
    pub(crate) fn close_then(&self, after: Option<Box<dyn FnOnce() + Send>>) -> Result<()> {
        let shared = &self.shared;
        if shared.forked() {
            return Err(shared.forked_error());
        }
        if shared.in_dispatch() {
            if let Some(f) = after {
                shared.after_close.lock().unwrap().push(f);
            }
            shared.close_requested.store(true, Ordering::SeqCst);
            return Ok(());
        }
        close_now(shared);
        if let Some(f) = after {
            f();
        }
        Ok(())
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl Shared {
    fn in_dispatch(&self) -> bool {
        let key = self.key();
        HERE.with(|h| h.borrow().dispatching.contains(&key))
    }
}

/// This thread is dispatching `key` until `leave_round`. Returns the requests
/// corked so far: a nested dispatch (a callback waiting for its own call) must not wait
/// for them.
fn enter_round(key: usize) -> Vec<Corked> {
    HERE.with(|h| {
        let mut h = h.borrow_mut();
        h.dispatching.push(key);
        std::mem::take(&mut h.corked)
    })
}

/// Leave a round entered with `enter_round`; returns what its callbacks corked, and
/// whether that was this thread's outermost round of the context.
fn leave_round(key: usize) -> (Vec<Corked>, bool) {
    HERE.with(|h| {
        let mut h = h.borrow_mut();
        if let Some(pos) = h.dispatching.iter().rposition(|k| *k == key) {
            h.dispatching.remove(pos);
        }
        let outermost = !h.dispatching.contains(&key);
        (std::mem::take(&mut h.corked), outermost)
    })
}

/// Run up to `max` callbacks on this thread (see `Context::dispatch`). Takes the shared
/// state, not the `Context`: a callback may drop the last `Context` (a C host freeing it
/// from inside a callback of a synchronous call) while this round still runs.
pub(crate) fn dispatch(shared: &Arc<Shared>, max: usize) -> usize {
    // In a forked child the queue, the fd and the sockets are the parent's: reading or
    // writing any of them would steal its wake-ups and replies.
    if shared.forked() {
        return 0;
    }
    let key = shared.key();
    uncork(enter_round(key));
    let mut ran = dispatch_queue(shared, max);
    let (corked, outermost) = leave_round(key);
    uncork(corked);
    if outermost && shared.round_must_stop() {
        ran += close_now(shared);
    }
    ran
}

/// The teardown (see `Context::close`); returns how many callbacks it ran.
fn close_now(shared: &Arc<Shared>) -> usize {
    if shared.closed.swap(true, Ordering::SeqCst) {
        return 0;
    }
    shared.decodes.close();
    shared.reactor.send(Command::Shutdown);
    let io_thread = shared.io_thread.lock().unwrap().take();
    if let Some(t) = io_thread {
        let _ = t.join();
    }
    // The teardown's callbacks run as a round of their own: a callback that frees the
    // context again, waits synchronously or dispatches is then treated as inside one.
    let key = shared.key();
    uncork(enter_round(key));
    let mut total = 0;
    // Callbacks may start calls (refused now: closed) or cancel; loop until quiet.
    loop {
        let ran = dispatch_queue(shared, 0);
        let rest: Vec<CallEntry> = {
            let mut calls = shared.calls.lock().unwrap();
            calls.drain().map(|(_, e)| e).collect()
        };
        let cancelled = rest.len();
        for entry in rest {
            run_callback(entry.callback, Err(Error::cancelled()));
        }
        total += ran + cancelled;
        if ran == 0 && cancelled == 0 {
            break;
        }
    }
    // What the teardown's callbacks started on other contexts is written as after any round.
    uncork(leave_round(key).0);
    // Streams hold proxies, which hold the shared state: break the cycle.
    shared.streams.lock().unwrap().clear();
    let after = std::mem::take(&mut *shared.after_close.lock().unwrap());
    for f in after {
        f();
    }
    total
}

fn run_callback(cb: Callback, outcome: Outcome) {
    // A panicking Rust callback must not take the dispatch loop (or a C host) down.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || cb(outcome)));
}

fn dispatch_queue(shared: &Arc<Shared>, max: usize) -> usize {
    let mut ran = 0;
    match shared.dispatch_reads() {
        // The set said whether the completion fd is readable: reset it only then (a push
        // racing with this round raises it again and costs at most a spurious wake-up).
        Some(reads) => {
            if reads.read_ready(shared) {
                shared.queue.begin();
            }
        }
        None => shared.queue.begin(),
    }
    while (max == 0 || ran < max) && !shared.round_must_stop() {
        let Some(done) = shared.queue.pop() else {
            break;
        };
        let (callback, outcome) = match done {
            Done::Claimed { callback, outcome } => (callback, outcome),
            Done::Finished { id, outcome } => {
                let entry = shared.calls.lock().unwrap().remove(&id);
                match entry {
                    // Here, not where replies are read: no connection lock is held, so
                    // the stream registry may be asked.
                    Some(entry) => (
                        entry.callback,
                        super::stream::refuse_unread_stream(shared, id, entry.proxy, outcome),
                    ),
                    None => continue, // cancelled earlier; its CANCELLED went out already
                }
            }
        };
        run_callback(callback, outcome);
        ran += 1;
    }
    shared.queue.end();
    ran
}

fn cancel_call(shared: &Shared, id: CallId) -> bool {
    let entry = shared.calls.lock().unwrap().remove(&id);
    match entry {
        Some(entry) => {
            shared.queue.push(Done::Claimed {
                callback: entry.callback,
                outcome: Err(Error::cancelled()),
            });
            shared.reactor.send(Command::Wake);
            true
        }
        None => false,
    }
}

/// One call's request, prepared on the caller's thread.
#[derive(Debug, Clone)]
pub struct CallRequest {
    pub method: String,
    pub args: Vec<Value>,
    pub kwargs: Vec<(String, Value)>,
    /// Protocol flags (ONEWAY, BATCH).
    pub flags: u16,
    /// Send to this object id instead of the proxy's (e.g. "Pyro.Daemon" for streams).
    pub object: Option<String>,
    pub kind: CallKind,
}

impl CallRequest {
    pub fn new(
        method: impl Into<String>,
        args: Vec<Value>,
        kwargs: Vec<(String, Value)>,
    ) -> CallRequest {
        CallRequest {
            method: method.into(),
            args,
            kwargs,
            flags: 0,
            object: None,
            kind: CallKind::Invoke,
        }
    }
}

impl Proxy {
    pub fn id(&self) -> ProxyId {
        self.id
    }

    /// The URI text the proxy was made with, unchanged.
    pub fn uri(&self) -> &str {
        &self.link.uri
    }

    /// The `PYRO:` URI its calls go to: a direct proxy's own URI (normalised); for a
    /// `PYRONAME:`/`PYROMETA:` proxy the one its name last resolved to, None before that
    /// and while the name is looked up again after a connection failed.
    pub fn resolved_uri(&self) -> Option<String> {
        self.link.resolved.lock().unwrap().clone()
    }

    /// Start a call. The callback runs exactly once, inside a later `dispatch`.
    /// Errors here mean the call was refused and the callback was dropped uncalled.
    pub fn call(&self, req: CallRequest, callback: Callback) -> Result<CallId> {
        let shared = &self.shared;
        shared.accepting()?;
        if req.method.is_empty() {
            return Err(Error::invalid("method name is empty"));
        }
        // Encoding here spreads serialization over the callers' threads and keeps the
        // I/O thread free; the sequence number is patched in when the call is written.
        // A named proxy's invokes name the object its name resolved to: while its direct
        // lane is open they are encoded for that object (and handed back for the I/O
        // thread to encode if the lane turns out closed after all).
        let named_invoke =
            self.object.is_none() && req.object.is_none() && req.kind == CallKind::Invoke;
        let lane_object = if named_invoke {
            self.link.lane.lock().unwrap().object.clone()
        } else {
            None
        };
        let encoded = match self.encode(&req, lane_object.as_deref()) {
            Ok(e) => e,
            Err(e) => {
                // Accepted, and completed at once: the caller learns why through on_error.
                let id = shared.next_call.fetch_add(1, Ordering::Relaxed);
                shared.queue.push(Done::Claimed {
                    callback,
                    outcome: Err(e),
                });
                return Ok(id);
            }
        };
        let (flags, kind, daemon) = (req.flags, req.kind, req.object.is_some());
        let (method, payload, fallback) = match encoded {
            Some(message) if named_invoke => {
                (req.method.clone(), Payload::Encoded(message), Some(req))
            }
            Some(message) => (req.method, Payload::Encoded(message), None),
            None => (req.method.clone(), Payload::Request(req), None),
        };
        let info = CallInfo {
            method,
            flags,
            kind,
            daemon,
        };
        let id = shared.next_call.fetch_add(1, Ordering::Relaxed);
        shared.calls.lock().unwrap().insert(
            id,
            CallEntry {
                proxy: self.id,
                callback,
            },
        );
        let mut lane = self.link.lane.lock().unwrap();
        let payload = match payload {
            Payload::Encoded(message) => {
                match self.try_direct(&mut lane, id, message, &info, lane_object.as_deref()) {
                    Ok(()) => return Ok(id),
                    Err(message) => match fallback {
                        Some(req) => Payload::Request(req),
                        None => Payload::Encoded(message),
                    },
                }
            }
            other => other,
        };
        lane.via_reactor += 1;
        drop(lane);
        shared.reactor.send(Command::Call {
            proxy: self.id,
            call: id,
            payload,
            info,
        });
        Ok(id)
    }

    /// Make a call and wait for its outcome: for sequential programs (tools, tests,
    /// scripts). While waiting, this thread dispatches the proxy's context, so callbacks
    /// of other calls that complete meanwhile run here, as in `Context::dispatch`; call
    /// it where the context is dispatched (or where nothing else dispatches it).
    ///
    /// `timeout` is this call's deadline (TIMEOUT when it passes, handled as a proxy's
    /// own deadline is); None leaves the proxy's deadline, if any, as the only one.
    /// Refused inside a callback of the same context: that callback would stop its loop
    /// and have the context's other callbacks run inside it.
    pub fn call_sync(&self, req: CallRequest, timeout: Option<Duration>) -> Result<Reply> {
        let shared = &self.shared;
        shared.accepting()?;
        if shared.in_dispatch() {
            return Err(Error::invalid(
                "a synchronous call inside a callback of its own context is refused: waiting \
                 there would stall the loop that runs the callback and run the context's other \
                 callbacks inside it; start the call asynchronously instead",
            ));
        }
        // The outcome comes with a wake-up of its own: another thread dispatching the
        // context may run this call's callback and consume the context fd's wake-up.
        let wake = SignalFd::new()
            .map_err(|e| Error::communication(format!("cannot create a wake-up fd: {e}")))?;
        let slot = Arc::new((Mutex::new(None::<Outcome>), wake));
        let filled = slot.clone();
        let id = self.call(
            req,
            Box::new(move |outcome| {
                *filled.0.lock().unwrap() = Some(outcome);
                filled.1.raise();
            }),
        )?;
        if let Some(t) = timeout {
            shared.add_deadline(Instant::now() + t, self.id, id);
        }
        let ctx_fd = shared.fd();
        loop {
            if let Some(outcome) = slot.0.lock().unwrap().take() {
                return outcome;
            }
            let mut fds = [
                libc::pollfd {
                    fd: ctx_fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: slot.1.raw(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfd structs. EINTR (a host's signal handler) just
            // goes round again.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            dispatch(shared, 0);
        }
    }

    /// The request's bytes, or None when the I/O thread must encode it (a named proxy
    /// learns its object id only when resolved).
    fn encode(&self, req: &CallRequest, lane_object: Option<&str>) -> Result<Option<Vec<u8>>> {
        let object = self.object.as_deref().or(lane_object);
        let mut m = match (object, &req.object, req.kind) {
            (_, _, CallKind::Ping) => crate::protocol::Message::new(
                crate::protocol::MSG_PING,
                0,
                0,
                crate::protocol::PING_SERIALIZER_ID,
                b"ping".to_vec(),
            ),
            (Some(object), None, _) => wire::invoke_message(
                0,
                self.serializer,
                object,
                &req.method,
                &req.args,
                &req.kwargs,
                req.flags,
            )?,
            _ => return Ok(None),
        };
        let max_len = self.shared.options.max_message_size;
        self.link
            .wire
            .lock()
            .unwrap()
            .seal_request(&mut m, max_len)
            .map(Some)
    }

    /// Put the call on the direct lane if it is open and the call needs nothing from the
    /// I/O thread; hands the request back otherwise.
    fn try_direct(
        &self,
        lane: &mut Lane,
        id: CallId,
        message: Vec<u8>,
        info: &CallInfo,
        encoded_for: Option<&str>,
    ) -> std::result::Result<(), Vec<u8>> {
        let plain =
            info.kind == CallKind::Invoke && !info.daemon && info.flags & !FLAGS_ONEWAY == 0;
        if !plain || lane.closed || lane.via_reactor > 0 {
            return Err(message);
        }
        // Bytes made for a named proxy's object fit only a connection to that object.
        if encoded_for.is_some() && lane.object.as_deref() != encoded_for {
            return Err(message);
        }
        let Some(outbox) = lane.outbox.clone() else {
            return Err(message);
        };
        // Unknown methods are refused by the I/O thread, in one place.
        let routed = self
            .link
            .info
            .lock()
            .unwrap()
            .as_ref()
            .map(|m| reactor::route(m, info));
        let mut message = message;
        let expect = match routed {
            Some(reactor::Route::Invoke) if info.flags & FLAGS_ONEWAY == 0 => Expect::Result,
            Some(reactor::Route::Invoke) => Expect::Nothing,
            Some(reactor::Route::Oneway) => {
                // The server's metadata marks the method @oneway: send it that way.
                crate::protocol::add_flags(&mut message, FLAGS_ONEWAY);
                Expect::Nothing
            }
            Some(reactor::Route::Unknown) | None => return Err(message),
        };
        let mut ob = outbox.lock().unwrap();
        if !ob.is_direct() {
            drop(ob);
            lane.outbox = None;
            lane.object = None;
            return Err(message);
        }
        // With replies outstanding this call is likely one of a burst: let the I/O
        // thread write the burst at once (one wake-up, one write) rather than pay a
        // syscall per call here. An idle connection is written now (lowest latency).
        let burst = ob.awaiting_replies();
        // A retrying proxy's call keeps what sending it again takes in its own in-flight
        // record, which the I/O thread finds there if the connection dies.
        let resend = (lane.retries > 0).then(|| Resend {
            left: lane.retries,
            info: info.clone(),
        });
        ob.submit(id, message, expect, resend);
        self.link.direct_calls.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = lane.timeout {
            self.shared.add_deadline(Instant::now() + t, self.id, id);
        }
        let cork = ob.unwritten() < CORK_LIMIT
            && HERE.with(|h| {
                let mut h = h.borrow_mut();
                if h.dispatching.is_empty() {
                    return false;
                }
                if !h.corked.iter().any(|c| Arc::ptr_eq(&c.outbox, &outbox)) {
                    h.corked.push(Corked {
                        outbox: outbox.clone(),
                        shared: self.shared.clone(),
                        proxy: self.id,
                    });
                }
                true
            });
        if !cork && burst {
            if ob.request_flush() {
                drop(ob);
                self.shared.reactor.send(Command::Flush(self.id));
            }
            return Ok(());
        }
        drop(ob);
        if !cork {
            write_direct(&outbox, &self.shared, self.id);
        }
        Ok(())
    }

    /// Request copies its connection keeps to send calls again if it dies: one per call
    /// of a retrying proxy awaiting its reply. Diagnostics.
    pub fn resend_copies(&self) -> usize {
        let lane = self.link.lane.lock().unwrap();
        lane.outbox
            .as_ref()
            .map_or(0, |o| o.lock().unwrap().resend_copies())
    }

    /// Whether calls are being written by their submitting threads right now (the proxy
    /// has a ready plain connection). Diagnostics.
    pub fn direct_lane_open(&self) -> bool {
        let lane = self.link.lane.lock().unwrap();
        !lane.closed
            && lane
                .outbox
                .as_ref()
                .is_some_and(|o| o.lock().unwrap().is_direct())
    }

    /// How many of this proxy's calls were written by their submitting threads (the
    /// direct lane) rather than by the I/O thread. Diagnostics.
    pub fn direct_calls(&self) -> u64 {
        self.link.direct_calls.load(Ordering::Relaxed)
    }

    /// Call a method that returns an iterator and receive its items one by one (Pyro4
    /// item streaming). The returned id cancels the whole stream (closing it on the
    /// server). Exactly one of `on_end` / `on_error` runs, after the items.
    pub fn call_stream(
        &self,
        req: CallRequest,
        handler: super::stream::StreamHandler,
    ) -> Result<CallId> {
        let state = super::stream::StreamState::new(self.clone(), handler);
        let s2 = state.clone();
        // Registered before the call can complete, under the id it gets.
        let mut streams = self.shared.streams.lock().unwrap();
        let id = self.call(
            req,
            Box::new(move |o| super::stream::on_first_reply(&s2, o)),
        )?;
        state.lock().unwrap().key = id;
        streams.insert(id, state);
        Ok(id)
    }

    /// Change the message options (HMAC key, compression, annotations, handshake data).
    /// Requests made afterwards use them; HMAC key and handshake apply from the next
    /// connection (use `release` to reconnect now).
    pub fn update_wire(&self, f: impl FnOnce(&mut WireOptions)) {
        if self.shared.forked() {
            return;
        }
        f(&mut self.link.wire.lock().unwrap());
    }

    /// Use TLS (Pyro4's SSL mode) from the next connection; None for plain TCP.
    pub fn set_tls(&self, config: Option<Arc<rustls::ClientConfig>>) {
        if self.shared.forked() {
            return;
        }
        *self.link.tls.lock().unwrap() = config;
    }

    /// What the server said at the last handshake (its reply and the object's metadata);
    /// None before the first connection.
    pub fn connect_info(&self) -> Option<ConnectInfo> {
        if self.shared.forked() {
            return None;
        }
        self.link.info.lock().unwrap().clone()
    }

    /// Serializer for calls made from now on through this handle (Pyro4 servers answer
    /// each request in its own serializer, so one connection can carry both).
    pub fn set_serializer(&mut self, serializer: SerializerId) {
        if self.shared.forked() {
            return;
        }
        self.serializer = serializer;
        self.shared.reactor.send(Command::Configure {
            proxy: self.id,
            change: ConfigChange::Serializer(serializer),
        });
    }

    pub fn serializer(&self) -> SerializerId {
        self.serializer
    }

    /// Connect (and handshake) now, ahead of the first call.
    pub fn bind(&self) {
        if self.shared.forked() {
            return;
        }
        self.shared.reactor.send(Command::Bind(self.id));
    }

    /// Drop the connection; the next call connects again. Calls in flight on it fail.
    pub fn release(&self) {
        if self.shared.forked() {
            return;
        }
        self.shared.reactor.send(Command::Release(self.id));
    }

    /// Make the proxy patient (or not): while its name cannot be resolved or its server
    /// not reached, calls wait and it retries every `interval`, up to `max_tries` times.
    pub fn set_patience(&self, patience: Option<Patience>) {
        if self.shared.forked() {
            return;
        }
        self.shared.reactor.send(Command::Configure {
            proxy: self.id,
            change: ConfigChange::Patience(patience),
        });
    }

    /// Retry calls that failed on a dead connection this many times.
    pub fn set_max_retries(&self, n: u32) {
        if self.shared.forked() {
            return;
        }
        self.link.lane.lock().unwrap().retries = n;
        self.shared.reactor.send(Command::Configure {
            proxy: self.id,
            change: ConfigChange::MaxRetries(n),
        });
    }

    /// Deadline for each call of this proxy (None: no deadline).
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        if self.shared.forked() {
            return;
        }
        self.link.lane.lock().unwrap().timeout = timeout;
        self.shared.reactor.send(Command::Configure {
            proxy: self.id,
            change: ConfigChange::Timeout(timeout),
        });
    }

    /// Report connection state changes through dispatch.
    pub fn set_state_callback(&self, cb: Option<StateCallback>) {
        if self.shared.forked() {
            return;
        }
        self.shared.reactor.send(Command::Configure {
            proxy: self.id,
            change: ConfigChange::StateCallback(cb),
        });
    }

    /// Cancel every pending call of this proxy (CANCELLED at the next dispatch) and close
    /// its connection. Calls made afterwards through clones of this handle are refused.
    pub fn close(&self) {
        let shared = &self.shared;
        // The child of a fork leaves the parent's proxy alone (its locks may be held).
        if shared.forked() {
            return;
        }
        {
            let mut lane = self.link.lane.lock().unwrap();
            lane.closed = true;
            lane.outbox = None;
            lane.object = None;
        }
        let victims: Vec<CallEntry> = {
            let mut calls = shared.calls.lock().unwrap();
            let ids: Vec<CallId> = calls
                .iter()
                .filter(|(_, e)| e.proxy == self.id)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter().filter_map(|id| calls.remove(&id)).collect()
        };
        for entry in victims {
            shared.queue.push(Done::Claimed {
                callback: entry.callback,
                outcome: Err(Error::cancelled()),
            });
        }
        shared.reactor.send(Command::CloseProxy(self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ready_set::readable_now as readable;

    /// A push that raced a round can leave the completion fd raised with `signaled`
    /// clear. A round that reads sockets directly (trusting `signaled`) finds nothing
    /// then, and must ask the set and reset the fd, or a level-triggered host would spin.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_raised_fd_with_signaled_clear_is_reset_by_the_next_round() {
        let ctx = Context::new(ContextOptions::default()).unwrap();
        ctx.read_replies_in_dispatch().unwrap();
        ctx.shared.queue.fd().raise();
        assert!(!ctx.shared.queue_signaled());
        assert!(readable(ctx.fd()));
        assert_eq!(ctx.dispatch(0), 0);
        assert!(
            !readable(ctx.fd()),
            "the round left the fd raised: a host would spin"
        );
    }
}
