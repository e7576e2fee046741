//! Incremental decoding: push bytes as they arrive, pop complete messages.
//! The same code serves the reactor, the blocking client and the fuzzer.

use super::message::{parse_annotations, Header, Message};
use super::{Annotations, HEADER_SIZE};
use crate::error::{Error, Result};
use std::io;

/// Buffer capacity kept once everything buffered has been consumed.
const KEEP_CAPACITY: usize = 256 * 1024;
/// Bytes asked of the stream per read into the shared buffer.
const READ_CHUNK: usize = 64 * 1024;
/// Message data at least this big is assembled in a buffer of its own, sized once from
/// the header and read into directly: no copy out of the shared buffer, no regrowth.
const DIRECT_DATA: usize = 256 * 1024;

/// A big message whose data is being read straight into its final buffer.
struct Direct {
    header: Header,
    annotations: Annotations,
    /// `header.data_len` long from the start (zeroed pages cost nothing until touched).
    data: Vec<u8>,
    filled: usize,
}

pub struct MessageReader {
    max_len: usize,
    buf: Vec<u8>,
    /// Consumed prefix of `buf` (compacted lazily to avoid shifting on every message).
    start: usize,
    header: Option<Header>,
    direct: Option<Direct>,
    failed: Option<Error>,
}

impl MessageReader {
    pub fn new(max_len: usize) -> MessageReader {
        MessageReader {
            max_len,
            buf: Vec::new(),
            start: 0,
            header: None,
            direct: None,
            failed: None,
        }
    }

    /// Read once from `stream` into the reader's own buffers (no staging copy).
    /// Returns the bytes read and the bytes asked for (a short read drained the socket).
    pub fn read_from(&mut self, stream: &mut impl io::Read) -> io::Result<(usize, usize)> {
        if let Some(d) = self.direct.as_mut().filter(|d| d.filled < d.data.len()) {
            let want = &mut d.data[d.filled..];
            let asked = want.len();
            let n = stream.read(want)?;
            d.filled += n;
            return Ok((n, asked));
        }
        self.compact_if_consumed();
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let r = stream.read(&mut self.buf[len..]);
        let n = *r.as_ref().unwrap_or(&0);
        self.buf.truncate(len + n);
        r.map(|n| (n, READ_CHUNK))
    }

    fn compact_if_consumed(&mut self) {
        if self.start == self.buf.len() {
            // everything consumed
            self.buf.clear();
            self.start = 0;
            // One huge reply must not pin its buffer for the connection's life.
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf.shrink_to(KEEP_CAPACITY);
            }
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if let Some(d) = self.direct.as_mut() {
            let take = (d.data.len() - d.filled).min(bytes.len());
            d.data[d.filled..d.filled + take].copy_from_slice(&bytes[..take]);
            d.filled += take;
            bytes = &bytes[take..];
        }
        if !bytes.is_empty() {
            self.compact_if_consumed();
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start + self.direct.as_ref().map_or(0, |d| d.filled)
    }

    /// Start assembling a big message's data in its own buffer, once its annotations are
    /// in; takes the data bytes already buffered.
    fn start_direct(&mut self, header: Header) -> Result<()> {
        let ann_end = self.start + HEADER_SIZE + header.annotations_len;
        let annotations = parse_annotations(&self.buf[self.start + HEADER_SIZE..ann_end])?;
        let mut data = vec![0u8; header.data_len];
        let have = (self.buf.len() - ann_end).min(header.data_len);
        data[..have].copy_from_slice(&self.buf[ann_end..ann_end + have]);
        self.start = ann_end + have;
        self.header = None;
        self.direct = Some(Direct {
            header,
            annotations,
            data,
            filled: have,
        });
        Ok(())
    }

    /// The next complete message, `None` if more bytes are needed. After an error the
    /// reader stays failed: the stream cannot be resynchronised.
    pub fn next_message(&mut self) -> Result<Option<Message>> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if let Some(d) = &self.direct {
            if d.filled < d.data.len() {
                return Ok(None);
            }
            let d = self.direct.take().expect("checked");
            return Ok(Some(Message::from_header(&d.header, d.annotations, d.data)));
        }
        let avail = &self.buf[self.start..];
        let header = match self.header {
            Some(h) => h,
            None => {
                if avail.len() < HEADER_SIZE {
                    return Ok(None);
                }
                let h = match Header::decode(avail[..HEADER_SIZE].try_into().unwrap(), self.max_len)
                {
                    Ok(h) => h,
                    Err(e) => {
                        self.failed = Some(e.clone());
                        self.buf = Vec::new();
                        return Err(e);
                    }
                };
                self.header = Some(h);
                h
            }
        };
        let body_len = header.annotations_len + header.data_len;
        let avail = &self.buf[self.start..];
        if header.data_len >= DIRECT_DATA {
            if avail.len() < HEADER_SIZE + header.annotations_len {
                return Ok(None);
            }
            if let Err(e) = self.start_direct(header) {
                self.failed = Some(e.clone());
                return Err(e);
            }
            return self.next_message();
        }
        if avail.len() < HEADER_SIZE + body_len {
            return Ok(None);
        }
        let body = &avail[HEADER_SIZE..HEADER_SIZE + body_len];
        let msg = Message::from_parts(&header, body);
        self.start += HEADER_SIZE + body_len;
        self.header = None;
        if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        match msg {
            Ok(m) => Ok(Some(m)),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }
}

/// Read one message from a blocking reader (for the blocking client and tests).
pub fn read_message(r: &mut impl std::io::Read, max_len: usize) -> Result<Message> {
    let mut h = [0u8; HEADER_SIZE];
    r.read_exact(&mut h)
        .map_err(|e| Error::communication(format!("reading message header: {e}")))?;
    let header = Header::decode(&h, max_len)?;
    let mut body = vec![0u8; header.annotations_len + header.data_len];
    r.read_exact(&mut body)
        .map_err(|e| Error::communication(format!("reading message body: {e}")))?;
    Message::from_parts(&header, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::*;

    #[test]
    fn a_huge_message_does_not_pin_the_buffer() {
        let big = Message::new(MSG_RESULT, 0, 1, 1, vec![5; 3 << 20])
            .encode()
            .unwrap();
        let small = Message::new(MSG_RESULT, 0, 2, 1, b"x".to_vec())
            .encode()
            .unwrap();
        let mut r = MessageReader::new(8 << 20);
        r.push(&big);
        assert_eq!(r.next_message().unwrap().unwrap().data.len(), 3 << 20);
        r.push(&small);
        assert_eq!(r.next_message().unwrap().unwrap().seq, 2);
        assert!(r.buf.capacity() <= KEEP_CAPACITY);
    }

    #[test]
    fn byte_by_byte_and_batched() {
        let a = Message::new(MSG_RESULT, 0, 1, 1, b"one".to_vec())
            .encode()
            .unwrap();
        let mut m2 = Message::new(MSG_RESULT, FLAGS_EXCEPTION, 2, 1, vec![7; 100_000]);
        m2.annotations.push((*b"CORR", vec![9; 16]));
        let b = m2.encode().unwrap();
        let mut all = a.clone();
        all.extend_from_slice(&b);
        let mut r = MessageReader::new(DEFAULT_MAX_MESSAGE_SIZE);
        let mut got = Vec::new();
        for byte in &all {
            r.push(std::slice::from_ref(byte));
            while let Some(m) = r.next_message().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], m2);
        let mut r = MessageReader::new(DEFAULT_MAX_MESSAGE_SIZE);
        r.push(&all);
        assert_eq!(r.next_message().unwrap().unwrap().seq, 1);
        assert_eq!(r.next_message().unwrap().unwrap().seq, 2);
        assert!(r.next_message().unwrap().is_none());
        assert_eq!(r.buffered(), 0);
    }

    /// Reads of a few sizes over small, big (assembled in its own buffer) and small
    /// messages: same messages, same order, whatever the read boundaries.
    #[test]
    fn read_from_a_stream_across_direct_and_shared_buffers() {
        let mut big = Message::new(MSG_RESULT, FLAGS_COMPRESSED, 2, 4, vec![]);
        big.data = (0..DIRECT_DATA * 3 + 7).map(|i| (i % 251) as u8).collect();
        big.annotations.push((*b"CORR", vec![1; 16]));
        let msgs = [
            Message::new(MSG_RESULT, 0, 1, 1, b"a".to_vec()),
            big,
            Message::new(MSG_RESULT, 0, 3, 1, b"c".to_vec()),
        ];
        let wire: Vec<u8> = msgs.iter().flat_map(|m| m.encode().unwrap()).collect();
        for chunk in [1usize, 1000, 65_536, 1 << 20] {
            struct Chunks<'a>(&'a [u8], usize);
            impl std::io::Read for Chunks<'_> {
                fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                    let n = self.0.len().min(self.1).min(out.len());
                    out[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let mut src = Chunks(&wire, chunk);
            let mut r = MessageReader::new(DEFAULT_MAX_MESSAGE_SIZE);
            let mut got = Vec::new();
            while r.read_from(&mut src).unwrap().0 > 0 {
                while let Some(m) = r.next_message().unwrap() {
                    got.push(m);
                }
            }
            assert_eq!(got, msgs, "chunk {chunk}");
            assert_eq!(r.buffered(), 0);
        }
    }

    #[test]
    fn stays_failed_after_garbage() {
        let mut r = MessageReader::new(1024);
        r.push(&[0u8; 30]);
        assert!(r.next_message().is_err());
        r.push(&Message::new(MSG_RESULT, 0, 1, 1, vec![]).encode().unwrap());
        assert!(r.next_message().is_err());
    }

    #[test]
    fn huge_announced_length_is_refused_without_waiting_for_data() {
        let h = Header {
            msg_type: MSG_RESULT,
            flags: 0,
            seq: 1,
            data_len: 2_000_000_000,
            serializer_id: 1,
            annotations_len: 0,
        };
        let mut r = MessageReader::new(DEFAULT_MAX_MESSAGE_SIZE);
        r.push(&h.encode());
        let e = r.next_message().unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Protocol);
    }
}
