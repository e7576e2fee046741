//! One proxy's connection as a non-blocking state machine: connect, handshake,
//! pipelined invokes, replies matched by sequence number.
//!
//! The owner (the reactor) registers the stream with its poller and calls
//! `on_ready` when the stream is readable or writable; everything here is
//! non-blocking and returns events for the owner to act on.

use crate::client::wire::{self, ConnectInfo};
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
}

impl Stream {
    pub fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            Stream::Unix(s) => s.take_error(),
        }
    }
    fn is_connected(&self) -> io::Result<bool> {
        let r = match self {
            Stream::Tcp(s) => s.peer_addr().map(|_| ()),
            Stream::Unix(s) => s.peer_addr().map(|_| ()),
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
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
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

struct InFlight {
    seq: u16,
    call: CallId,
    /// A copy of the request, kept only when the proxy may retry it on a new connection.
    retry: Option<Vec<u8>>,
}

/// A call taken off a failed connection.
pub struct Unfinished {
    pub call: CallId,
    /// The request, if it can be sent again (never written, or kept for retry).
    pub message: Option<Vec<u8>>,
    /// Whether it had been written (it may have run on the server).
    pub written: bool,
}

/// What happened on the connection, for the owner to deliver.
#[derive(Debug)]
pub enum Event {
    /// Handshake done; queued calls have been written.
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
    next_seq: u16,
    serializer: SerializerId,
    object: String,
    handshake: Value,
    /// Calls waiting for the handshake to finish: (call, encoded message with seq 0).
    waiting: VecDeque<(CallId, Vec<u8>)>,
    read_buf: Box<[u8]>,
    /// Keep request copies so calls can be retried on a fresh connection (MAX_RETRIES).
    pub keep_for_retry: bool,
}

impl Connection {
    pub fn new(
        stream: Stream,
        object: &str,
        serializer: SerializerId,
        handshake: Value,
        max_message_size: usize,
    ) -> Connection {
        Connection {
            stream,
            phase: Phase::Connecting,
            reader: MessageReader::new(max_message_size),
            wbuf: Vec::new(),
            wpos: 0,
            inflight: VecDeque::new(),
            next_seq: 0,
            serializer,
            object: object.to_string(),
            handshake,
            waiting: VecDeque::new(),
            read_buf: vec![0u8; 64 * 1024].into_boxed_slice(),
            keep_for_retry: false,
        }
    }

    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }

    /// Take every call that has no reply yet (the connection is being dropped).
    pub fn take_unfinished(&mut self) -> Vec<Unfinished> {
        let mut out: Vec<Unfinished> = self
            .inflight
            .drain(..)
            .map(|f| Unfinished {
                call: f.call,
                message: f.retry,
                written: true,
            })
            .collect();
        out.extend(self.waiting.drain(..).map(|(call, m)| Unfinished {
            call,
            message: Some(m),
            written: false,
        }));
        out
    }

    /// Whether the call has been written and awaits its reply.
    pub fn is_on_wire(&self, call: CallId) -> bool {
        self.inflight.iter().any(|f| f.call == call)
    }

    /// Remove a call that is still waiting for the handshake; false if not there.
    pub fn remove_waiting(&mut self, call: CallId) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|(c, _)| *c != call);
        self.waiting.len() != before
    }

    pub fn has_pending_calls(&self) -> bool {
        !self.inflight.is_empty() || !self.waiting.is_empty()
    }

    fn take_seq(&mut self) -> u16 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    /// Queue an encoded INVOKE (built with seq 0). It goes out with the next `flush`, so
    /// a burst of calls is coalesced into one write.
    pub fn submit(&mut self, call: CallId, message: Vec<u8>) {
        if self.phase != Phase::Ready {
            self.waiting.push_back((call, message));
            return;
        }
        self.append_call(call, message);
    }

    pub fn has_unwritten(&self) -> bool {
        self.wpos < self.wbuf.len()
    }

    fn append_call(&mut self, call: CallId, mut message: Vec<u8>) {
        let seq = self.take_seq();
        protocol::patch_seq(&mut message, seq);
        let retry = self.keep_for_retry.then(|| message.clone());
        self.inflight.push_back(InFlight { seq, call, retry });
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
        self.wbuf.extend_from_slice(&message);
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
            if let Stream::Tcp(s) = &self.stream {
                // Without NODELAY a pipelined reply waits ~40 ms (Nagle + delayed ACK).
                let _ = s.set_nodelay(true);
            }
            let seq = self.take_seq();
            let msg = wire::connect_message(seq, self.serializer, &self.object, &self.handshake)?;
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
        self.wbuf.clear();
        self.wpos = 0;
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
                    if n < self.read_buf.len() {
                        // The receive queue was emptied; new data raises a new edge.
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

    fn handle_message(&mut self, msg: Message, events: &mut Vec<Event>) -> Result<()> {
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
                while let Some((call, m)) = self.waiting.pop_front() {
                    self.append_call(call, m);
                }
                events.push(Event::Connected(info));
                self.flush()
            }
            Phase::Ready => {
                let Some(front) = self.inflight.pop_front() else {
                    return Err(Error::protocol(format!(
                        "unexpected message (type {}, seq {}) with no call outstanding",
                        msg.msg_type, msg.seq
                    )));
                };
                if front.seq != msg.seq {
                    return Err(Error::protocol(format!(
                        "reply has sequence number {}, expected {}",
                        msg.seq, front.seq
                    )));
                }
                let outcome = wire::parse_result(&msg, front.seq, self.serializer)
                    .map(|v| (v, msg.annotations.clone()));
                // A reply that is not a RESULT at all poisons the stream; a decoded
                // remote exception or undecodable payload concerns this call only.
                if let Err(e) = &outcome {
                    if e.kind == crate::error::ErrorKind::Protocol {
                        events.push(Event::Reply {
                            call: front.call,
                            outcome,
                        });
                        return Err(Error::protocol("connection closed after a protocol error"));
                    }
                }
                events.push(Event::Reply {
                    call: front.call,
                    outcome,
                });
                Ok(())
            }
        }
    }
}

fn io_err(e: io::Error) -> Error {
    let what = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused",
        io::ErrorKind::ConnectionReset => "connection reset by peer",
        io::ErrorKind::BrokenPipe => "connection closed by peer (broken pipe)",
        io::ErrorKind::TimedOut => "connection timed out",
        _ => "socket error",
    };
    Error::communication(format!("{what}: {e}"))
}
