//! One proxy's connection as a non-blocking state machine: connect, handshake,
//! pipelined invokes, replies matched by sequence number.
//!
//! The owner (the reactor) registers the stream with its poller and calls
//! `on_ready` when the stream is readable or writable; everything here is
//! non-blocking and returns events for the owner to act on.

use crate::client::outbox::{self, io_error as io_err, Outbox};
pub use crate::client::outbox::{Expect, Unfinished};
use crate::client::wire::{self, ConnectInfo, WireOptions};
use crate::error::{Error, Result};
use crate::protocol::{self, Annotations, Message, MessageReader};
use crate::serial::SerializerId;
use crate::value::Value;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
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
    Reply {
        call: CallId,
        outcome: Result<(Value, Annotations)>,
    },
}

pub struct Connection {
    pub stream: Stream,
    phase: Phase,
    reader: MessageReader,
    /// Shared with submitting threads while the connection is ready (the direct lane).
    pub outbox: Arc<Mutex<Outbox>>,
    serializer: SerializerId,
    object: String,
    wire: WireOptions,
    max_len: usize,
    read_buf: Box<[u8]>,
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
        let direct_fd = match &stream {
            Stream::Tcp(s) => Some(s.as_raw_fd()),
            Stream::Unix(s) => Some(s.as_raw_fd()),
            Stream::Tls(_) => None,
        };
        Connection {
            stream,
            phase: Phase::Connecting,
            reader: MessageReader::new(max_message_size),
            outbox: Arc::new(Mutex::new(Outbox::new(direct_fd))),
            serializer,
            object: object.to_string(),
            wire,
            max_len: max_message_size,
            read_buf: vec![0u8; 64 * 1024].into_boxed_slice(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap()
    }

    pub fn set_keep_for_retry(&self, keep: bool) {
        self.outbox().keep_for_retry = keep;
    }

    /// Take every call that has no outcome yet (the connection is being dropped).
    pub fn take_unfinished(&mut self) -> Vec<Unfinished> {
        self.outbox().take_unfinished()
    }

    /// Whether the call has been written (or queued for writing) and awaits its reply.
    pub fn is_on_wire(&self, call: CallId) -> bool {
        self.outbox().is_on_wire(call)
    }

    /// Queue an encoded request (built with seq 0) on a ready connection. It goes out with
    /// the next `flush`, so a burst of calls is coalesced into one write.
    pub fn submit(&mut self, call: CallId, message: Vec<u8>, expect: Expect) {
        debug_assert!(self.is_ready());
        self.outbox().submit(call, message, expect);
    }

    pub fn has_unwritten(&self) -> bool {
        self.outbox().has_unwritten() || self.stream.pending_output()
    }

    /// Oneway calls whose bytes have all been written since the last call.
    pub fn take_written_oneway(&mut self, done: &mut Vec<CallId>) {
        self.outbox().take_written_oneway(done);
    }

    /// A direct write from another thread failed: the error, once.
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
            let mut msg =
                wire::connect_message(seq, self.serializer, &self.object, &self.wire.handshake)?;
            self.wire.finish_request(&mut msg);
            self.outbox().push_bytes(&msg.encode()?);
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
        loop {
            match self.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    self.drain_messages(events)?;
                    return Err(Error::communication("connection closed by the server"));
                }
                Ok(n) => {
                    self.reader.push(&self.read_buf[..n]);
                    self.drain_messages(events)?;
                    if short_read_drains && n < self.read_buf.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(e)),
            }
        }
    }

    fn drain_messages(&mut self, events: &mut Vec<Event>) -> Result<()> {
        while let Some(msg) = self.reader.next_message()? {
            self.handle_message(msg, events)?;
        }
        Ok(())
    }

    fn handle_message(&mut self, mut msg: Message, events: &mut Vec<Event>) -> Result<()> {
        // A bad HMAC or undecodable compression poisons the connection: it is closed.
        self.wire.open_reply(&mut msg, self.max_len)?;
        match self.phase {
            Phase::Connecting => Err(Error::protocol("message received before connecting")),
            Phase::Handshaking { seq } => {
                if msg.seq != seq {
                    return Err(Error::protocol(format!(
                        "handshake reply has sequence number {}, expected {seq}",
                        msg.seq
                    )));
                }
                let info = wire::parse_connect_reply(&msg, self.serializer)?;
                self.phase = Phase::Ready;
                events.push(Event::Connected(info));
                Ok(())
            }
            Phase::Ready => {
                let front = self.outbox().pop_inflight();
                let Some(front) = front else {
                    return Err(Error::protocol(format!(
                        "unexpected message (type {}, seq {}) with no call outstanding",
                        msg.msg_type, msg.seq
                    )));
                };
                if front.seq != msg.seq {
                    let e = Error::protocol(format!(
                        "reply has sequence number {}, expected {}",
                        msg.seq, front.seq
                    ));
                    events.push(Event::Reply {
                        call: front.call,
                        outcome: Err(e.clone()),
                    });
                    return Err(e);
                }
                let outcome = if front.ping {
                    if msg.msg_type == protocol::MSG_PING {
                        Ok((Value::None, msg.annotations))
                    } else {
                        Err(Error::protocol(format!(
                            "expected a PING reply, got type {}",
                            msg.msg_type
                        )))
                    }
                } else if msg.flags & protocol::FLAGS_ITEMSTREAMRESULT != 0
                    && msg.msg_type == protocol::MSG_RESULT
                {
                    // The method returned an iterator: the server holds it as a stream whose
                    // items are fetched with get_next_stream_item(streamId).
                    match msg.annotation(b"STRM") {
                        Some(id) => Ok((
                            wire::stream_marker(&String::from_utf8_lossy(id)),
                            msg.annotations.clone(),
                        )),
                        None => Err(Error::protocol(
                            "item stream result without a STRM annotation",
                        )),
                    }
                } else {
                    wire::parse_result(&msg, front.seq, front.serializer)
                        .map(|v| (v, msg.annotations))
                };
                // A reply that is not a RESULT at all poisons the stream; a decoded
                // remote exception or undecodable payload concerns this call only.
                let fatal =
                    matches!(&outcome, Err(e) if e.kind == crate::error::ErrorKind::Protocol);
                events.push(Event::Reply {
                    call: front.call,
                    outcome,
                });
                if fatal {
                    return Err(Error::protocol("connection closed after a protocol error"));
                }
                Ok(())
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Before the socket closes (fields drop after this): no other thread may write
        // to an fd number the system can hand out again.
        if let Ok(mut ob) = self.outbox.lock() {
            ob.close_direct();
        }
    }
}
