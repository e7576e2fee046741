//! One proxy's connection as a non-blocking state machine: connect, handshake,
//! pipelined invokes, replies matched by sequence number.
//!
//! The owner (the reactor) registers the stream with its poller and calls
//! `on_ready` when the stream is readable or writable; everything here is
//! non-blocking and returns events for the owner to act on.

use crate::client::wire::{self, ConnectInfo, WireOptions};
use crate::error::{Error, Result};
use crate::protocol::{self, Annotations, Message, MessageReader};
use crate::serial::SerializerId;
use crate::value::Value;
use std::collections::VecDeque;
use std::io::{self, Read, Write};

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
            Stream::Unix(s) => s.write(buf),
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

/// What a written request expects back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A RESULT message.
    Result,
    /// Nothing: a oneway call completes once written.
    Nothing,
    /// A PING message.
    Pong,
}

struct InFlight {
    seq: u16,
    call: CallId,
    ping: bool,
    /// The request's serializer: the reply must use the same one.
    serializer: SerializerId,
    /// A copy of the request, kept only when the proxy may retry it on a new connection.
    retry: Option<Vec<u8>>,
}

/// A call taken off a failed connection.
pub struct Unfinished {
    pub call: CallId,
    /// The request, if it can be sent again (kept for retry).
    pub message: Option<Vec<u8>>,
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
    wbuf: Vec<u8>,
    wpos: usize,
    inflight: VecDeque<InFlight>,
    /// Oneway calls in `wbuf`: (end offset in wbuf, call); done once written.
    oneway: Vec<(usize, CallId)>,
    next_seq: u16,
    serializer: SerializerId,
    object: String,
    wire: WireOptions,
    max_len: usize,
    read_buf: Box<[u8]>,
    /// Keep request copies so calls can be retried on a fresh connection (MAX_RETRIES).
    pub keep_for_retry: bool,
}

impl Connection {
    pub fn new(
        stream: Stream,
        object: &str,
        serializer: SerializerId,
        wire: WireOptions,
        max_message_size: usize,
    ) -> Connection {
        Connection {
            stream,
            phase: Phase::Connecting,
            reader: MessageReader::new(max_message_size),
            wbuf: Vec::new(),
            wpos: 0,
            inflight: VecDeque::new(),
            oneway: Vec::new(),
            next_seq: 0,
            serializer,
            object: object.to_string(),
            wire,
            max_len: max_message_size,
            read_buf: vec![0u8; 64 * 1024].into_boxed_slice(),
            keep_for_retry: false,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Take every call that has no outcome yet (the connection is being dropped).
    pub fn take_unfinished(&mut self) -> Vec<Unfinished> {
        let mut out: Vec<Unfinished> = self
            .inflight
            .drain(..)
            .map(|f| Unfinished {
                call: f.call,
                message: f.retry,
            })
            .collect();
        out.extend(self.oneway.drain(..).map(|(_, call)| Unfinished {
            call,
            message: None,
        }));
        out
    }

    /// Whether the call has been written (or queued for writing) and awaits its reply.
    pub fn is_on_wire(&self, call: CallId) -> bool {
        self.inflight.iter().any(|f| f.call == call) || self.oneway.iter().any(|(_, c)| *c == call)
    }

    pub fn has_pending_calls(&self) -> bool {
        !self.inflight.is_empty() || !self.oneway.is_empty()
    }

    fn take_seq(&mut self) -> u16 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    /// Queue an encoded request (built with seq 0) on a ready connection. It goes out with
    /// the next `flush`, so a burst of calls is coalesced into one write.
    pub fn submit(&mut self, call: CallId, mut message: Vec<u8>, expect: Expect) {
        debug_assert!(self.is_ready());
        let seq = self.take_seq();
        protocol::patch_seq(&mut message, seq);
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
        match expect {
            Expect::Nothing => {
                self.wbuf.extend_from_slice(&message);
                self.oneway.push((self.wbuf.len(), call));
            }
            Expect::Result | Expect::Pong => {
                let retry = self.keep_for_retry.then(|| message.clone());
                // Each request names its serializer in its header (a proxy may switch).
                let serializer =
                    SerializerId::from_u16(u16::from_be_bytes([message[16], message[17]]))
                        .unwrap_or(self.serializer);
                self.inflight.push_back(InFlight {
                    seq,
                    call,
                    ping: expect == Expect::Pong,
                    serializer,
                    retry,
                });
                self.wbuf.extend_from_slice(&message);
            }
        }
    }

    pub fn has_unwritten(&self) -> bool {
        self.wpos < self.wbuf.len() || self.stream.pending_output()
    }

    /// Oneway calls whose bytes have all been written since the last call.
    pub fn take_written_oneway(&mut self, done: &mut Vec<CallId>) {
        let written = self.wpos;
        let all = self.wbuf.is_empty();
        self.oneway.retain(|(end, call)| {
            if all || *end <= written {
                done.push(*call);
                false
            } else {
                true
            }
        });
    }

    /// Drive the connection after a readiness event.
    pub fn on_ready(
        &mut self,
        readable: bool,
        writable: bool,
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
            let seq = self.take_seq();
            let mut msg =
                wire::connect_message(seq, self.serializer, &self.object, &self.wire.handshake)?;
            self.wire.finish_request(&mut msg);
            self.wbuf.extend_from_slice(&msg.encode()?);
            self.phase = Phase::Handshaking { seq };
            self.flush()?;
        } else if writable {
            self.flush()?;
        }
        if readable {
            self.read_available(events)?;
        }
        Ok(())
    }

    /// Write what is queued, as far as the socket takes it.
    pub fn flush(&mut self) -> Result<()> {
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(Error::communication("connection closed while writing")),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(e)),
            }
        }
        self.stream.flush_pending().map_err(io_err)?;
        if self.oneway.is_empty() {
            self.wbuf.clear();
            self.wpos = 0;
        }
        Ok(())
    }

    fn read_available(&mut self, events: &mut Vec<Event>) -> Result<()> {
        loop {
            match self.stream.read(&mut self.read_buf) {
                Ok(0) => {
                    self.drain_messages(events)?;
                    return Err(Error::communication("connection closed by the server"));
                }
                Ok(n) => {
                    self.reader.push(&self.read_buf[..n]);
                    self.drain_messages(events)?;
                    // Keep reading until WouldBlock: a FIN that arrived with the data raises
                    // no further edge, and stopping early would miss it.
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
                let Some(front) = self.inflight.pop_front() else {
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

fn io_err(e: io::Error) -> Error {
    if let Some(t) = e
        .get_ref()
        .and_then(|r| r.downcast_ref::<crate::client::tls::TlsFailure>())
    {
        return Error::new(crate::error::ErrorKind::Security, t.to_string());
    }
    let what = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::ConnectionReset => "connection reset by peer",
        io::ErrorKind::BrokenPipe => "connection closed by peer (broken pipe)",
        io::ErrorKind::TimedOut => "connection timed out",
        _ => "socket error",
    };
    Error::communication(format!("{what}: {e}"))
}
