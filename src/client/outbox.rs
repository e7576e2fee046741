//! The sending half of a connection and its book of calls awaiting replies, behind one
//! lock so that two kinds of writer can share it: the I/O thread, and a submitting
//! thread that writes its request straight to the socket instead of waking the I/O
//! thread (the "direct lane", see `runtime::context`).
//!
//! Sequence numbers are taken, the in-flight record is made and the bytes are appended
//! under the same lock, so the wire order is the order of `submit` calls, and a reply
//! can never arrive before the record that matches it exists.

use crate::error::{Error, Result};
use crate::protocol;
use crate::serial::SerializerId;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::RawFd;

pub type CallId = u64;

/// Write-buffer capacity kept once everything is written.
const KEEP_CAPACITY: usize = 256 * 1024;

/// What travels for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Invoke,
    /// A daemon PING (the call completes with None when the PING comes back).
    Ping,
}

/// What the I/O thread needs to know about a call besides its bytes.
#[derive(Clone)]
pub struct CallInfo {
    pub method: String,
    pub flags: u16,
    pub kind: CallKind,
    /// Addressed to the daemon object ("Pyro.Daemon"), not the proxy's object.
    pub daemon: bool,
}

/// What a call of a proxy that retries needs to be sent again on a fresh connection. It
/// stays with the call's in-flight record, whichever thread wrote the call or reads its
/// reply, and goes when the call does.
pub struct Resend {
    /// Times it may still be sent again.
    pub left: u32,
    pub info: CallInfo,
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

pub(crate) struct InFlight {
    pub seq: u16,
    pub call: CallId,
    pub ping: bool,
    /// The request's serializer: the reply must use the same one.
    pub serializer: SerializerId,
    /// A copy of the request, kept only when the proxy may retry it on a new connection.
    pub retry: Option<(Vec<u8>, Resend)>,
}

/// A call taken off a failed connection.
pub struct Unfinished {
    pub call: CallId,
    /// The request and what sending it again takes, if it may be (kept for retry).
    pub resend: Option<(Vec<u8>, Resend)>,
}

pub struct Outbox {
    wbuf: Vec<u8>,
    wpos: usize,
    /// Bytes written over the connection's life: oneway calls are done once this passes
    /// their end, whoever wrote them and however often the buffer was compacted.
    written: u64,
    /// Bytes ever appended.
    appended: u64,
    inflight: VecDeque<InFlight>,
    /// Oneway calls queued: (end offset in the byte stream, call).
    oneway: Vec<(u64, CallId)>,
    next_seq: u16,
    /// The plain socket, while other threads may write to it directly (None for TLS,
    /// and from the moment the connection is dropped: the fd may be reused after that).
    direct_fd: Option<RawFd>,
    /// A direct write failed: the I/O thread takes this and fails the connection.
    failed: Option<Error>,
    /// The I/O thread has been asked to write what is queued (reset by every flush).
    flush_requested: bool,
}

impl Outbox {
    pub fn new(direct_fd: Option<RawFd>) -> Outbox {
        Outbox {
            wbuf: Vec::new(),
            wpos: 0,
            written: 0,
            appended: 0,
            inflight: VecDeque::new(),
            oneway: Vec::new(),
            next_seq: 0,
            direct_fd,
            failed: None,
            flush_requested: false,
        }
    }

    pub fn take_seq(&mut self) -> u16 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    /// Append bytes that expect no bookkeeping (the handshake request).
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.compact();
        self.wbuf.extend_from_slice(bytes);
        self.appended += bytes.len() as u64;
    }

    /// Queue an encoded request (built with seq 0): it gets the next sequence number and
    /// goes out with the next `flush`, so a burst of calls is coalesced into one write.
    /// With `resend`, a copy is kept so that the call can be sent again if the
    /// connection dies before its reply.
    pub fn submit(
        &mut self,
        call: CallId,
        mut message: Vec<u8>,
        expect: Expect,
        resend: Option<Resend>,
    ) {
        let seq = self.take_seq();
        protocol::patch_seq(&mut message, seq);
        self.push_bytes(&message);
        match expect {
            Expect::Nothing => self.oneway.push((self.appended, call)),
            Expect::Result | Expect::Pong => {
                // Each request names its serializer in its header (a proxy may switch).
                let serializer =
                    SerializerId::from_u16(u16::from_be_bytes([message[16], message[17]]))
                        .unwrap_or(SerializerId::Serpent);
                let retry = resend.map(|r| (message, r));
                self.inflight.push_back(InFlight {
                    seq,
                    call,
                    ping: expect == Expect::Pong,
                    serializer,
                    retry,
                });
            }
        }
    }

    fn compact(&mut self) {
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
            // One huge request must not pin its buffer for the connection's life.
            if self.wbuf.capacity() > KEEP_CAPACITY {
                self.wbuf.shrink_to(KEEP_CAPACITY);
            }
        }
    }

    /// Calls written or queued whose replies have not come yet.
    pub fn awaiting_replies(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// Ask for the I/O thread to write what is queued: true if the caller must tell it
    /// (once per burst; any flush resets the request).
    pub fn request_flush(&mut self) -> bool {
        !std::mem::replace(&mut self.flush_requested, true)
    }

    pub fn has_unwritten(&self) -> bool {
        self.wpos < self.wbuf.len()
    }

    /// Bytes queued and not yet written.
    pub fn unwritten(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Write what is queued, as far as `w` takes it (stops at WouldBlock).
    pub fn flush(&mut self, w: &mut impl Write) -> Result<()> {
        self.flush_requested = false;
        while self.wpos < self.wbuf.len() {
            match w.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(Error::communication("connection closed while writing")),
                Ok(n) => {
                    self.wpos += n;
                    self.written += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            }
        }
        self.compact();
        Ok(())
    }

    /// Write straight to the socket from a submitting thread. False when the direct lane
    /// is closed (connection gone or TLS); on a write error the lane closes and the error
    /// waits in `take_failure` for the I/O thread.
    pub fn flush_direct(&mut self) -> bool {
        let Some(fd) = self.direct_fd else {
            return false;
        };
        if let Err(e) = self.flush(&mut SocketWriter(fd)) {
            self.direct_fd = None;
            self.failed = Some(e);
        }
        true
    }

    pub fn is_direct(&self) -> bool {
        self.direct_fd.is_some()
    }

    /// The connection is going away: no thread may write to its fd any more.
    pub fn close_direct(&mut self) {
        self.direct_fd = None;
    }

    /// Reading the socket on another thread failed: close the lane and leave the error
    /// for the I/O thread (the first failure is the one reported).
    pub fn fail(&mut self, e: Error) {
        self.direct_fd = None;
        self.failed.get_or_insert(e);
    }

    pub fn take_failure(&mut self) -> Option<Error> {
        self.failed.take()
    }

    /// Oneway calls whose bytes have all been written.
    pub fn take_written_oneway(&mut self, done: &mut Vec<CallId>) {
        let written = self.written;
        self.oneway.retain(|&(end, call)| {
            if end <= written {
                done.push(call);
                false
            } else {
                true
            }
        });
    }

    /// The record of the oldest call awaiting its reply.
    pub(crate) fn pop_inflight(&mut self) -> Option<InFlight> {
        self.inflight.pop_front()
    }

    /// Request copies kept for sending calls again (diagnostics).
    pub fn resend_copies(&self) -> usize {
        self.inflight.iter().filter(|f| f.retry.is_some()).count()
    }

    /// Whether the call has been written (or queued for writing) and awaits its reply.
    pub fn is_on_wire(&self, call: CallId) -> bool {
        self.inflight.iter().any(|f| f.call == call) || self.oneway.iter().any(|(_, c)| *c == call)
    }

    /// Whether a call for which `live` holds still awaits a reply here, or a oneway call
    /// still waits to be written.
    pub fn awaits_any(&self, live: impl Fn(CallId) -> bool) -> bool {
        !self.oneway.is_empty() || self.inflight.iter().any(|f| live(f.call))
    }

    /// Take every call that has no outcome yet (the connection is being dropped). The
    /// lane closes in the same breath, so no direct call can slip in behind.
    pub fn take_unfinished(&mut self) -> Vec<Unfinished> {
        self.direct_fd = None;
        let mut out: Vec<Unfinished> = self
            .inflight
            .drain(..)
            .map(|f| Unfinished {
                call: f.call,
                resend: f.retry,
            })
            .collect();
        out.extend(
            self.oneway
                .drain(..)
                .map(|(_, call)| Unfinished { call, resend: None }),
        );
        out
    }
}

/// Writes with `send(MSG_NOSIGNAL)`: a peer that went away must give EPIPE, not a
/// SIGPIPE that would kill a C host which never asked for one. Works for TCP and
/// Unix-domain stream sockets alike.
pub struct SocketWriter(pub RawFd);

impl Write for SocketWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: buf is a valid slice; the fd is open while the caller holds the outbox
        // lock with the lane open (the connection closes the lane before its socket).
        let n = unsafe {
            libc::send(
                self.0,
                buf.as_ptr() as *const libc::c_void,
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) fn io_error(e: io::Error) -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(serializer: u16) -> Vec<u8> {
        protocol::Message::new(protocol::MSG_INVOKE, 0, 0, serializer, b"x".to_vec())
            .encode()
            .unwrap()
    }

    /// A writer that takes at most `cap` bytes per call, then WouldBlock.
    struct Trickle {
        out: Vec<u8>,
        budget: usize,
    }
    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn sequence_numbers_follow_submission_order() {
        let mut ob = Outbox::new(None);
        for call in 1..=3 {
            ob.submit(call, request(1), Expect::Result, None);
        }
        let seqs: Vec<(u16, CallId)> = std::iter::from_fn(|| ob.pop_inflight())
            .map(|f| (f.seq, f.call))
            .collect();
        assert_eq!(seqs, vec![(1, 1), (2, 2), (3, 3)]);
    }

    #[test]
    fn oneway_completes_only_when_its_last_byte_is_written() {
        let mut ob = Outbox::new(None);
        let len = request(1).len();
        ob.submit(7, request(1), Expect::Nothing, None);
        let mut w = Trickle {
            out: Vec::new(),
            budget: len - 1,
        };
        ob.flush(&mut w).unwrap();
        let mut done = Vec::new();
        ob.take_written_oneway(&mut done);
        assert!(done.is_empty(), "one byte is still unwritten");
        // A later request appended behind a partial write keeps offsets absolute.
        ob.submit(8, request(1), Expect::Result, None);
        w.budget = 1;
        ob.flush(&mut w).unwrap();
        ob.take_written_oneway(&mut done);
        assert_eq!(done, vec![7]);
        assert!(ob.has_unwritten());
        w.budget = usize::MAX;
        ob.flush(&mut w).unwrap();
        assert!(!ob.has_unwritten());
        assert_eq!(w.out.len(), 2 * len);
    }

    #[test]
    fn a_huge_request_does_not_pin_its_buffer() {
        let mut ob = Outbox::new(None);
        let big = protocol::Message::new(protocol::MSG_INVOKE, 0, 0, 1, vec![7; 4 << 20])
            .encode()
            .unwrap();
        ob.submit(1, big, Expect::Result, None);
        let mut w = Trickle {
            out: Vec::new(),
            budget: usize::MAX,
        };
        ob.flush(&mut w).unwrap();
        assert!(!ob.has_unwritten());
        assert!(ob.wbuf.capacity() <= KEEP_CAPACITY);
    }

    #[test]
    fn reply_serializer_is_taken_from_each_request() {
        let mut ob = Outbox::new(None);
        ob.submit(1, request(2), Expect::Result, None);
        ob.submit(2, request(4), Expect::Pong, None);
        let a = ob.pop_inflight().unwrap();
        let b = ob.pop_inflight().unwrap();
        assert_eq!(a.serializer, SerializerId::Json);
        assert_eq!((b.serializer, b.ping), (SerializerId::Pickle, true));
    }

    #[test]
    fn closed_lane_refuses_direct_writes() {
        let mut ob = Outbox::new(Some(-1));
        ob.close_direct();
        ob.submit(1, request(1), Expect::Result, None);
        assert!(!ob.flush_direct());
        assert!(ob.has_unwritten());
        assert_eq!(ob.take_unfinished().len(), 1);
    }

    #[test]
    fn failed_direct_write_closes_the_lane_and_reports() {
        // fd -1: send fails with EBADF.
        let mut ob = Outbox::new(Some(-1));
        ob.submit(1, request(1), Expect::Result, None);
        assert!(ob.flush_direct());
        assert!(!ob.is_direct());
        let e = ob.take_failure().expect("failure recorded");
        assert_eq!(e.kind, crate::error::ErrorKind::Communication);
        assert!(ob.take_failure().is_none());
    }
}
