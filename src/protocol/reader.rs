//! Incremental decoding: push bytes as they arrive, pop complete messages.
//! The same code serves the reactor, the blocking client and the fuzzer.

use super::message::{Header, Message};
use super::HEADER_SIZE;
use crate::error::{Error, Result};

/// Buffer capacity kept once everything buffered has been consumed.
const KEEP_CAPACITY: usize = 256 * 1024;

pub struct MessageReader {
    max_len: usize,
    buf: Vec<u8>,
    /// Consumed prefix of `buf` (compacted lazily to avoid shifting on every message).
    start: usize,
    header: Option<Header>,
    failed: Option<Error>,
}

impl MessageReader {
    pub fn new(max_len: usize) -> MessageReader {
        MessageReader {
            max_len,
            buf: Vec::new(),
            start: 0,
            header: None,
            failed: None,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start == self.buf.len() {
            // everything consumed
            self.buf.clear();
            self.start = 0;
            // One huge reply must not pin its buffer for the connection's life.
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf.shrink_to(KEEP_CAPACITY);
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete message, `None` if more bytes are needed. After an error the
    /// reader stays failed: the stream cannot be resynchronised.
    pub fn next_message(&mut self) -> Result<Option<Message>> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
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
