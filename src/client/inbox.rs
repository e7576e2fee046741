//! The receiving half of a connection: the incremental reader and the matching of each
//! reply to the oldest call awaiting one. Behind a lock, so that whoever reads the
//! socket (the I/O thread, or the host thread inside dispatch when the context reads
//! replies there) turns the same bytes into the same outcomes in the same order.

use super::outbox::{io_error, CallId, Outbox};
use super::ready_set::ReadySet;
use super::wire::{self, WireOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{self, Annotations, Message, MessageReader};
use crate::value::Value;
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

/// One call's reply: its value and response annotations, or its error.
pub type Decoded = Result<(Value, Annotations)>;

/// A reply as it came off the wire. Whatever grows with the payload (decompression,
/// decoding) is left to [`ReplyOutcome::decode`], so the owner chooses the thread.
#[derive(Debug)]
pub enum ReplyOutcome {
    /// Settled without touching the payload (pings, stream markers, refused replies).
    Ready(Decoded),
    /// A RESULT for the right call whose payload is still to be opened and decoded.
    Undecoded(RawReply),
}

impl ReplyOutcome {
    /// Payload bytes still to be decoded (0 when settled).
    pub fn payload_len(&self) -> usize {
        match self {
            ReplyOutcome::Ready(_) => 0,
            ReplyOutcome::Undecoded(r) => r.msg.data.len(),
        }
    }

    /// Whether decoding may take work beyond what its size says (compressed payloads
    /// expand up to `max_message_size`).
    pub fn is_compressed(&self) -> bool {
        matches!(self, ReplyOutcome::Undecoded(r) if r.msg.flags & protocol::FLAGS_COMPRESSED != 0)
    }

    pub fn decode(self) -> Decoded {
        match self {
            ReplyOutcome::Ready(d) => d,
            ReplyOutcome::Undecoded(r) => r.decode(),
        }
    }
}

/// A RESULT whose header has been checked against its call.
#[derive(Debug)]
pub struct RawReply {
    msg: Message,
    max_len: usize,
}

impl RawReply {
    fn decode(mut self) -> Decoded {
        crate::protocol::security::decompress(&mut self.msg, self.max_len)?;
        let value = wire::result_value(&self.msg)?;
        Ok((value, self.msg.annotations))
    }
}

pub struct Inbox {
    reader: MessageReader,
    pub wire: WireOptions,
    max_len: usize,
    outbox: Arc<Mutex<Outbox>>,
    /// While the host thread reads this socket in dispatch: the set it is watched in,
    /// and the socket. Cleared before the socket closes, so no thread reads a reused fd.
    host: Option<(Arc<ReadySet>, RawFd)>,
}

impl Inbox {
    pub fn new(outbox: Arc<Mutex<Outbox>>, wire: WireOptions, max_len: usize) -> Inbox {
        Inbox {
            reader: MessageReader::new(max_len),
            wire,
            max_len,
            outbox,
            host: None,
        }
    }

    /// The next complete message, with its HMAC checked; compression is undone by
    /// whoever decodes it (`ReplyOutcome::decode`, the handshake).
    pub fn next_message(&mut self) -> Result<Option<Message>> {
        match self.reader.next_message()? {
            Some(msg) => {
                // A bad HMAC poisons the connection.
                self.wire.verify_reply(&msg)?;
                Ok(Some(msg))
            }
            None => Ok(None),
        }
    }

    /// The largest message this connection accepts.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Match a reply to the oldest call awaiting one and hand over its outcome.
    /// Err: the connection cannot go on (what arrived is not a reply to that call).
    pub fn reply(
        &mut self,
        msg: Message,
        out: &mut impl FnMut(CallId, ReplyOutcome),
    ) -> Result<()> {
        let front = self.outbox.lock().unwrap().pop_inflight();
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
            out(front.call, ReplyOutcome::Ready(Err(e.clone())));
            return Err(e);
        }
        let outcome = if front.ping {
            ReplyOutcome::Ready(if msg.msg_type == protocol::MSG_PING {
                Ok((Value::None, msg.annotations))
            } else {
                Err(Error::protocol(format!(
                    "expected a PING reply, got type {}",
                    msg.msg_type
                )))
            })
        } else if msg.flags & protocol::FLAGS_ITEMSTREAMRESULT != 0
            && msg.msg_type == protocol::MSG_RESULT
        {
            // The method returned an iterator: the server holds it as a stream whose
            // items are fetched with get_next_stream_item(streamId).
            ReplyOutcome::Ready(match msg.annotation(b"STRM") {
                Some(id) => Ok((
                    wire::stream_marker(&String::from_utf8_lossy(id)),
                    msg.annotations.clone(),
                )),
                None => Err(Error::protocol(
                    "item stream result without a STRM annotation",
                )),
            })
        } else {
            match wire::check_result(&msg, front.seq, front.serializer) {
                Ok(()) => ReplyOutcome::Undecoded(RawReply {
                    msg,
                    max_len: self.max_len,
                }),
                Err(e) => ReplyOutcome::Ready(Err(e)),
            }
        };
        // A reply that is not a RESULT for this call poisons the stream; a remote
        // exception or an undecodable payload concerns this call only.
        let fatal =
            matches!(&outcome, ReplyOutcome::Ready(Err(e)) if e.kind == ErrorKind::Protocol);
        out(front.call, outcome);
        if fatal {
            return Err(Error::protocol("connection closed after a protocol error"));
        }
        Ok(())
    }

    /// From now on the host thread reads this (plain, ready) socket in dispatch.
    pub fn attach(&mut self, set: Arc<ReadySet>, fd: RawFd, token: u64) -> io::Result<()> {
        set.add(fd, token)?;
        self.host = Some((set, fd));
        Ok(())
    }

    /// Stop host-thread reads (the socket goes back to the I/O thread, or is closing).
    pub fn detach(&mut self) {
        if let Some((set, fd)) = self.host.take() {
            set.remove(fd);
        }
    }

    pub fn is_attached(&self) -> bool {
        self.host.is_some()
    }

    /// Read what has arrived, on the host thread, and hand over every reply it completes.
    /// On Err the socket is detached already and the error is left in the outbox for the
    /// I/O thread (which then fails the connection's other calls); the caller tells it.
    pub fn read_here(&mut self, out: &mut impl FnMut(CallId, ReplyOutcome)) -> Result<()> {
        let Some((_, fd)) = self.host else {
            return Ok(());
        };
        let result = self.read_socket(fd, out);
        if let Err(e) = &result {
            self.detach();
            self.outbox.lock().unwrap().fail(e.clone());
        }
        result
    }

    fn read_socket(&mut self, fd: RawFd, out: &mut impl FnMut(CallId, ReplyOutcome)) -> Result<()> {
        // Level-triggered: after a short read, anything left makes the set readable again.
        self.read_stream(&mut SocketReader(fd), true, &mut |ib, msg| {
            ib.reply(msg, out)
        })
    }

    /// Read from the I/O thread's stream (plain or TLS) until it would block, or after
    /// one short read of a plain socket unless `closing`. `on_message` gets every
    /// complete message, with the inbox so it can match replies.
    pub fn read_stream(
        &mut self,
        stream: &mut impl io::Read,
        short_read_drains: bool,
        on_message: &mut impl FnMut(&mut Inbox, Message) -> Result<()>,
    ) -> Result<()> {
        loop {
            match self.reader.read_from(stream) {
                Ok((0, _)) => {
                    self.drain_with(on_message)?;
                    return Err(Error::communication("connection closed by the server"));
                }
                Ok((n, asked)) => {
                    self.drain_with(on_message)?;
                    if short_read_drains && n < asked {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            }
        }
    }

    fn drain_with(
        &mut self,
        on_message: &mut impl FnMut(&mut Inbox, Message) -> Result<()>,
    ) -> Result<()> {
        while let Some(msg) = self.next_message()? {
            on_message(self, msg)?;
        }
        Ok(())
    }
}

/// Reads a plain socket with `recv(MSG_DONTWAIT)`, from whichever thread holds the inbox.
struct SocketReader(RawFd);

impl io::Read for SocketReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for its length; the fd is open while the inbox is attached
        // (the connection detaches under the inbox lock before its socket closes).
        let n = unsafe {
            libc::recv(
                self.0,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::client::outbox::Expect;
    use crate::protocol::{MSG_INVOKE, MSG_RESULT};
    use crate::serial::serpent;
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    fn request() -> Vec<u8> {
        Message::new(MSG_INVOKE, 0, 0, 1, b"x".to_vec())
            .encode()
            .unwrap()
    }

    fn result(seq: u16, v: i64) -> Vec<u8> {
        Message::new(
            MSG_RESULT,
            0,
            seq,
            1,
            serpent::encode(&Value::Int(v)).unwrap(),
        )
        .encode()
        .unwrap()
    }

    /// An inbox whose outbox awaits replies for calls 10, 11, 12 (seq 1, 2, 3), read on
    /// this thread from the far end of a socket pair.
    fn attached() -> (Inbox, Arc<Mutex<Outbox>>, UnixStream, UnixStream) {
        let (server, client) = UnixStream::pair().unwrap();
        client.set_nonblocking(true).unwrap();
        let outbox = Arc::new(Mutex::new(Outbox::new(Some(client.as_raw_fd()))));
        for call in 10..13 {
            outbox
                .lock()
                .unwrap()
                .submit(call, request(), Expect::Result, None);
        }
        let mut inbox = Inbox::new(outbox.clone(), WireOptions::default(), 1 << 20);
        let set = Arc::new(ReadySet::new().unwrap());
        inbox.attach(set, client.as_raw_fd(), 5).unwrap();
        (inbox, outbox, server, client)
    }

    fn read(inbox: &mut Inbox) -> (Vec<(CallId, Value)>, Result<()>) {
        let mut got = Vec::new();
        let r = inbox.read_here(&mut |call, outcome| got.push((call, outcome.decode().unwrap().0)));
        (got, r)
    }

    #[test]
    fn replies_are_matched_in_order_across_partial_reads() {
        let (mut inbox, _outbox, mut server, _client) = attached();
        let mut bytes = result(1, 100);
        bytes.extend(result(2, 200));
        let third = result(3, 300);
        bytes.extend_from_slice(&third[..7]);
        server.write_all(&bytes).unwrap();
        let (got, r) = read(&mut inbox);
        r.unwrap();
        assert_eq!(got, vec![(10, Value::Int(100)), (11, Value::Int(200))]);
        // Nothing more yet: a read finds nothing and completes nothing.
        let (got, r) = read(&mut inbox);
        assert!(got.is_empty() && r.is_ok());
        server.write_all(&third[7..]).unwrap();
        let (got, r) = read(&mut inbox);
        r.unwrap();
        assert_eq!(got, vec![(12, Value::Int(300))]);
        assert!(inbox.is_attached());
    }

    #[test]
    fn end_of_stream_detaches_and_leaves_the_error_for_the_io_thread() {
        let (mut inbox, outbox, mut server, _client) = attached();
        server.write_all(&result(1, 1)).unwrap();
        drop(server);
        let (got, r) = read(&mut inbox);
        assert_eq!(
            got,
            vec![(10, Value::Int(1))],
            "what came before the end counts"
        );
        // A short read stops there; the end, still readable, is seen by the next round.
        r.unwrap();
        let (got, r) = read(&mut inbox);
        assert!(got.is_empty());
        assert_eq!(r.unwrap_err().kind, ErrorKind::Communication);
        assert!(!inbox.is_attached());
        let mut ob = outbox.lock().unwrap();
        assert!(!ob.is_direct(), "the lane closes with the connection");
        assert_eq!(ob.take_failure().unwrap().kind, ErrorKind::Communication);
        drop(ob);
        // Detached: nothing more is read from the socket.
        assert!(read(&mut inbox).1.is_ok());
    }

    #[test]
    fn a_reply_out_of_sequence_fails_its_call_and_the_connection() {
        let (mut inbox, outbox, mut server, _client) = attached();
        server.write_all(&result(2, 1)).unwrap();
        let mut got = Vec::new();
        let r = inbox.read_here(&mut |call, outcome| got.push((call, outcome.decode())));
        assert_eq!(r.unwrap_err().kind, ErrorKind::Protocol);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, 10);
        assert!(got[0]
            .1
            .as_ref()
            .unwrap_err()
            .message
            .contains("sequence number 2"));
        assert_eq!(
            outbox.lock().unwrap().take_failure().unwrap().kind,
            ErrorKind::Protocol
        );
    }

    #[test]
    fn a_message_with_no_call_outstanding_is_a_protocol_error() {
        let (server, client) = UnixStream::pair().unwrap();
        client.set_nonblocking(true).unwrap();
        let outbox = Arc::new(Mutex::new(Outbox::new(None)));
        let mut inbox = Inbox::new(outbox, WireOptions::default(), 1 << 20);
        inbox
            .attach(Arc::new(ReadySet::new().unwrap()), client.as_raw_fd(), 1)
            .unwrap();
        (&server).write_all(&result(1, 1)).unwrap();
        let (got, r) = read(&mut inbox);
        assert!(got.is_empty());
        assert!(r.unwrap_err().message.contains("no call outstanding"));
    }
}
