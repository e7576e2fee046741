//! One proxy's connection as a non-blocking state machine: connect, handshake,
//! pipelined invokes, replies matched by sequence number.
//!
//! The owner (the reactor) registers the stream with its poller and calls
//! `on_ready` when the stream is readable or writable; everything here is
//! non-blocking and returns events for the owner to act on.

use crate::client::inbox::{Inbox, ReplyOutcome};
use crate::client::outbox::{self, io_error as io_err, Outbox};
pub use crate::client::outbox::{Expect, Resend, Unfinished};
use crate::client::wire::{self, ConnectInfo, WireOptions};
use crate::error::{Error, Result};
use crate::serial::SerializerId;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

pub type CallId = u64;

/// A socket the connection runs over.
pub enum Stream {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
    Tls(Box<crate::client::tls::TlsStream>),
}

impl Stream {
    pub fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
            Stream::Tls(s) => &mut s.sock,
        }
    }

    /// Encrypted bytes still waiting for the socket.
    fn pending_output(&self) -> bool {
        matches!(self, Stream::Tls(s) if s.tls.wants_write())
    }

    fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(s) => s.flush_tls(),
            _ => Ok(()),
        }
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Unix(s) => s.take_error(),
            Stream::Tls(s) => s.sock.take_error(),
        }
    }
    fn is_connected(&self) -> io::Result<bool> {
        let r = match self {
            Stream::Tcp(s) => s.peer_addr().map(|_| ()),
            Stream::Unix(s) => s.peer_addr().map(|_| ()),
            Stream::Tls(s) => s.sock.peer_addr().map(|_| ()),
        };
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            // std writes Unix sockets with write(2), which raises SIGPIPE in a C host.
            Stream::Unix(s) => outbox::SocketWriter(s.as_raw_fd()).write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Handshaking { seq: u16 },
    Ready,
}

/// What happened on the connection, for the owner to deliver.
#[derive(Debug)]
pub enum Event {
    /// Handshake done: calls may be submitted.
    Connected(ConnectInfo),
    /// A call's reply arrived (the owner decides whether the call is still wanted).
    Reply { call: CallId, outcome: ReplyOutcome },
}

pub struct Connection {
    pub stream: Stream,
    phase: Phase,
    /// Shared with submitting threads while the connection is ready (the direct lane).
    pub outbox: Arc<Mutex<Outbox>>,
    /// Shared with the host thread when it reads replies in dispatch.
    pub inbox: Arc<Mutex<Inbox>>,
    serializer: SerializerId,
    object: String,
}

impl Connection {
    pub fn new(
        stream: Stream,
        object: &str,
        serializer: SerializerId,
        wire: WireOptions,
        max_message_size: usize,
    ) -> Connection {
        // TLS keeps its record state in the stream: only the I/O thread may write there.
        let direct_fd = raw_fd(&stream);
        let outbox = Arc::new(Mutex::new(Outbox::new(direct_fd)));
        Connection {
            stream,
            phase: Phase::Connecting,
            inbox: Arc::new(Mutex::new(Inbox::new(
                outbox.clone(),
                wire,
                max_message_size,
            ))),
            outbox,
            serializer,
            object: object.to_string(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// The plain socket (None for TLS, whose records only the I/O thread may touch).
    pub fn plain_fd(&self) -> Option<RawFd> {
        raw_fd(&self.stream)
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap()
    }

    /// Take every call that has no outcome yet (the connection is being dropped).
    pub fn take_unfinished(&mut self) -> Vec<Unfinished> {
        self.outbox().take_unfinished()
    }

    /// Whether the call has been written (or queued for writing) and awaits its reply.
    pub fn is_on_wire(&self, call: CallId) -> bool {
        self.outbox().is_on_wire(call)
    }

    /// Whether a call for which `live` holds still awaits something of this connection.
    pub fn awaits_any(&self, live: impl Fn(CallId) -> bool) -> bool {
        self.outbox().awaits_any(live)
    }

    /// From now on only the I/O thread uses this connection: no direct writes from
    /// submitting threads, no reads in dispatch.
    pub fn take_back(&mut self) {
        self.outbox().close_direct();
        self.inbox.lock().unwrap().detach();
    }

    /// Queue an encoded request (built with seq 0) on a ready connection. It goes out with
    /// the next `flush`, so a burst of calls is coalesced into one write.
    pub fn submit(
        &mut self,
        call: CallId,
        message: Vec<u8>,
        expect: Expect,
        resend: Option<Resend>,
    ) {
        debug_assert!(self.is_ready());
        self.outbox().submit(call, message, expect, resend);
    }

    pub fn has_unwritten(&self) -> bool {
        self.outbox().has_unwritten() || self.stream.pending_output()
    }

    /// Oneway calls whose bytes have all been written since the last call.
    pub fn take_written_oneway(&mut self, done: &mut Vec<CallId>) {
        self.outbox().take_written_oneway(done);
    }

    /// A direct write (or a read in dispatch) on another thread failed: the error, once.
    pub fn take_failure(&mut self) -> Option<Error> {
        self.outbox().take_failure()
    }

    /// Drive the connection after a readiness event.
    /// `closing`: the poller saw the peer's FIN or an error (read to the end then).
    pub fn on_ready(
        &mut self,
        readable: bool,
        writable: bool,
        closing: bool,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        if self.phase == Phase::Connecting {
            if let Some(e) = self.stream.take_error().map_err(io_err)? {
                return Err(io_err(e));
            }
            if !self.stream.is_connected().map_err(io_err)? {
                return Ok(()); // still connecting
            }
            // Without NODELAY a pipelined reply waits ~40 ms (Nagle + delayed ACK).
            match &self.stream {
                Stream::Tcp(s) => drop(s.set_nodelay(true)),
                Stream::Tls(s) => drop(s.sock.set_nodelay(true)),
                Stream::Unix(_) => {}
            }
            let seq = self.outbox().take_seq();
            let msg = {
                let inbox = self.inbox.lock().unwrap();
                let opts = &inbox.wire;
                let mut m =
                    wire::connect_message(seq, self.serializer, &self.object, &opts.handshake)?;
                opts.seal_request(&mut m, inbox.max_len())?
            };
            self.outbox().push_bytes(&msg);
            self.phase = Phase::Handshaking { seq };
            self.flush()?;
        } else if writable {
            self.flush()?;
        }
        if readable {
            self.read_available(closing, events)?;
        }
        Ok(())
    }

    /// Write what is queued, as far as the socket takes it.
    pub fn flush(&mut self) -> Result<()> {
        self.outbox.lock().unwrap().flush(&mut self.stream)?;
        self.stream.flush_pending().map_err(io_err)
    }

    fn read_available(&mut self, closing: bool, events: &mut Vec<Event>) -> Result<()> {
        // A short read of a plain socket took everything there was; anything that comes
        // later raises a new edge. TLS may hold records back, and a FIN or error that
        // came with the data raises none: those are read until WouldBlock.
        let short_read_drains = !closing && !matches!(self.stream, Stream::Tls(_));
        let inbox = self.inbox.clone();
        let mut inbox = inbox.lock().unwrap();
        let phase = &mut self.phase;
        let serializer = self.serializer;
        inbox.read_stream(
            &mut self.stream,
            short_read_drains,
            &mut |ib, msg| match *phase {
                Phase::Connecting => Err(Error::protocol("message received before connecting")),
                Phase::Handshaking { seq } => {
                    if msg.seq != seq {
                        return Err(Error::protocol(format!(
                            "handshake reply has sequence number {}, expected {seq}",
                            msg.seq
                        )));
                    }
                    let info = open_handshake_reply(msg, ib.max_len(), serializer)?;
                    *phase = Phase::Ready;
                    events.push(Event::Connected(info));
                    Ok(())
                }
                Phase::Ready => ib.reply(msg, &mut |call, outcome| {
                    events.push(Event::Reply { call, outcome })
                }),
            },
        )
    }
}

/// The largest handshake reply read (and decoded on the I/O thread): real metadata
/// (an object's method and attribute names) is a few KiB, and this bounds the stall a
/// hostile server can cause before the connection is even ready.
pub const MAX_HANDSHAKE_REPLY: usize = 1 << 20;

fn open_handshake_reply(
    mut msg: crate::protocol::Message,
    max_len: usize,
    serializer: SerializerId,
) -> Result<ConnectInfo> {
    let limit = max_len.min(MAX_HANDSHAKE_REPLY);
    if msg.data.len() > limit {
        return Err(Error::protocol(format!(
            "handshake reply of {} bytes exceeds {limit} bytes",
            msg.data.len()
        )));
    }
    crate::protocol::security::decompress(&mut msg, limit)?;
    wire::parse_connect_reply(&msg, serializer)
}

fn raw_fd(stream: &Stream) -> Option<RawFd> {
    match stream {
        Stream::Tcp(s) => Some(s.as_raw_fd()),
        Stream::Unix(s) => Some(s.as_raw_fd()),
        Stream::Tls(_) => None,
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Before the socket closes (fields drop after this): no other thread may write
        // to an fd number the system can hand out again.
        if let Ok(mut ob) = self.outbox.lock() {
            ob.close_direct();
        }
        if let Ok(mut ib) = self.inbox.lock() {
            ib.detach();
        }
    }
}
