//! Header and message encoding/decoding.

use super::*;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub msg_type: u16,
    pub flags: u16,
    pub seq: u16,
    pub data_len: usize,
    pub serializer_id: u16,
    pub annotations_len: usize,
}

fn checksum(
    msg_type: u16,
    flags: u16,
    seq: u16,
    data_len: u32,
    serializer_id: u16,
    ann_len: u16,
) -> u16 {
    // Python sums unbounded ints and masks; wrapping u32 arithmetic gives the same low 16 bits.
    let sum = [
        msg_type as u32,
        PROTOCOL_VERSION as u32,
        data_len,
        ann_len as u32,
        serializer_id as u32,
    ]
    .iter()
    .chain(&[flags as u32, seq as u32, CHECKSUM_MAGIC])
    .fold(0u32, |a, b| a.wrapping_add(*b));
    (sum & 0xffff) as u16
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

impl Header {
    /// Validate a header from an untrusted peer. Nothing is allocated here, and a length
    /// over `max_len` (data + annotations) is refused before the caller allocates.
    pub fn decode(b: &[u8; HEADER_SIZE], max_len: usize) -> Result<Header> {
        if &b[0..4] != b"PYRO" {
            return Err(Error::protocol(
                "invalid message: does not start with the PYRO tag",
            ));
        }
        let version = be16(b, 4);
        if version != PROTOCOL_VERSION {
            return Err(Error::protocol(format!(
                "unsupported protocol version {version} (this client speaks {PROTOCOL_VERSION})"
            )));
        }
        let msg_type = be16(b, 6);
        let flags = be16(b, 8);
        let seq = be16(b, 10);
        let data_len = i32::from_be_bytes([b[12], b[13], b[14], b[15]]);
        let serializer_id = be16(b, 16);
        let ann_len = be16(b, 18);
        let check = be16(b, 22);
        if check
            != checksum(
                msg_type,
                flags,
                seq,
                data_len as u32,
                serializer_id,
                ann_len,
            )
        {
            return Err(Error::protocol("message header checksum mismatch"));
        }
        if data_len < 0 {
            return Err(Error::protocol(format!(
                "negative message data length {data_len}"
            )));
        }
        let total = data_len as usize + ann_len as usize;
        if total > max_len {
            return Err(Error::protocol(format!(
                "message size {total} exceeds the maximum of {max_len} bytes"
            )));
        }
        Ok(Header {
            msg_type,
            flags,
            seq,
            data_len: data_len as usize,
            serializer_id,
            annotations_len: ann_len as usize,
        })
    }

    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut h = [0u8; HEADER_SIZE];
        let data_len = self.data_len as u32;
        let ann_len = self.annotations_len as u16;
        h[0..4].copy_from_slice(b"PYRO");
        h[4..6].copy_from_slice(&PROTOCOL_VERSION.to_be_bytes());
        h[6..8].copy_from_slice(&self.msg_type.to_be_bytes());
        h[8..10].copy_from_slice(&self.flags.to_be_bytes());
        h[10..12].copy_from_slice(&self.seq.to_be_bytes());
        h[12..16].copy_from_slice(&data_len.to_be_bytes());
        h[16..18].copy_from_slice(&self.serializer_id.to_be_bytes());
        h[18..20].copy_from_slice(&ann_len.to_be_bytes());
        let c = checksum(
            self.msg_type,
            self.flags,
            self.seq,
            data_len,
            self.serializer_id,
            ann_len,
        );
        h[22..24].copy_from_slice(&c.to_be_bytes());
        h
    }
}

/// A whole Pyro4 message. Annotations keep their order (Pyro4 sends dict order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub msg_type: u16,
    pub flags: u16,
    pub seq: u16,
    pub serializer_id: u16,
    pub annotations: Annotations,
    pub data: Vec<u8>,
}

impl Message {
    pub fn new(msg_type: u16, flags: u16, seq: u16, serializer_id: u16, data: Vec<u8>) -> Message {
        Message {
            msg_type,
            flags,
            seq,
            serializer_id,
            annotations: Vec::new(),
            data,
        }
    }

    pub fn annotation(&self, key: &[u8; 4]) -> Option<&[u8]> {
        self.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    pub fn annotations_len(&self) -> usize {
        self.annotations.iter().map(|(_, v)| 6 + v.len()).sum()
    }

    /// The whole message in one buffer, so it goes out in one write (no Nagle stalls).
    /// Fails if an annotation is longer than 65535 bytes or the total would not fit the
    /// header's fields.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let ann_len = self.annotations_len();
        if ann_len > u16::MAX as usize {
            return Err(Error::protocol("annotations too large for one message"));
        }
        if self.data.len() > i32::MAX as usize {
            return Err(Error::protocol("message data larger than 2 GiB"));
        }
        let header = Header {
            msg_type: self.msg_type,
            flags: self.flags,
            seq: self.seq,
            data_len: self.data.len(),
            serializer_id: self.serializer_id,
            annotations_len: ann_len,
        };
        let mut out = Vec::with_capacity(HEADER_SIZE + ann_len + self.data.len());
        out.extend_from_slice(&header.encode());
        for (k, v) in &self.annotations {
            out.extend_from_slice(k);
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            out.extend_from_slice(v);
        }
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// Build a message from a validated header and its body (annotations then data).
    pub fn from_parts(header: &Header, body: &[u8]) -> Result<Message> {
        debug_assert_eq!(body.len(), header.annotations_len + header.data_len);
        let annotations = parse_annotations(&body[..header.annotations_len])?;
        Ok(Message::from_header(
            header,
            annotations,
            body[header.annotations_len..].to_vec(),
        ))
    }

    /// A message from its header and already separated annotations and data.
    pub fn from_header(header: &Header, annotations: Annotations, data: Vec<u8>) -> Message {
        Message {
            msg_type: header.msg_type,
            flags: header.flags,
            seq: header.seq,
            serializer_id: header.serializer_id,
            annotations,
            data,
        }
    }

    /// Decode one complete message from a buffer (for tests and the blocking client).
    pub fn decode(bytes: &[u8], max_len: usize) -> Result<Message> {
        if bytes.len() < HEADER_SIZE {
            return Err(Error::protocol("truncated message header"));
        }
        let header = Header::decode(bytes[..HEADER_SIZE].try_into().unwrap(), max_len)?;
        let body = &bytes[HEADER_SIZE..];
        if body.len() != header.annotations_len + header.data_len {
            return Err(Error::protocol(format!(
                "message body is {} bytes, header announces {}",
                body.len(),
                header.annotations_len + header.data_len
            )));
        }
        Message::from_parts(&header, body)
    }
}

pub(crate) fn parse_annotations(mut b: &[u8]) -> Result<Annotations> {
    let mut out = Vec::new();
    while !b.is_empty() {
        if b.len() < 6 {
            return Err(Error::protocol("truncated annotation chunk header"));
        }
        let key: [u8; 4] = b[..4].try_into().unwrap();
        let len = be16(b, 4) as usize;
        if b.len() < 6 + len {
            return Err(Error::protocol(format!(
                "annotation {:?} is {len} bytes, longer than the annotations block",
                String::from_utf8_lossy(&key)
            )));
        }
        out.push((key, b[6..6 + len].to_vec()));
        b = &b[6 + len..];
    }
    Ok(out)
}

/// Set the sequence number of an encoded message in place (fixing the checksum), so a
/// request can be encoded on the caller's thread and numbered when it is written.
pub fn patch_seq(encoded: &mut [u8], seq: u16) {
    let old_seq = be16(encoded, 10);
    let old_check = be16(encoded, 22);
    let check = old_check.wrapping_sub(old_seq).wrapping_add(seq);
    encoded[10..12].copy_from_slice(&seq.to_be_bytes());
    encoded[22..24].copy_from_slice(&check.to_be_bytes());
}

/// Add flags to an encoded message in place (fixing the checksum), e.g. ONEWAY once the
/// server's metadata says a method is oneway.
pub fn add_flags(encoded: &mut [u8], flags: u16) {
    let old = be16(encoded, 8);
    let new = old | flags;
    let check = be16(encoded, 22).wrapping_sub(old).wrapping_add(new);
    encoded[8..10].copy_from_slice(&new.to_be_bytes());
    encoded[22..24].copy_from_slice(&check.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let mut m = Message::new(MSG_INVOKE, FLAGS_ONEWAY, 7, 1, b"hello".to_vec());
        m.annotations.push((*b"CORR", vec![1; 16]));
        m
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let b = m.encode().unwrap();
        assert_eq!(Message::decode(&b, DEFAULT_MAX_MESSAGE_SIZE).unwrap(), m);
    }

    #[test]
    fn patch_seq_keeps_checksum_valid() {
        let mut b = sample().encode().unwrap();
        for seq in [0u16, 1, 500, 65535] {
            patch_seq(&mut b, seq);
            let m = Message::decode(&b, DEFAULT_MAX_MESSAGE_SIZE).unwrap();
            assert_eq!(m.seq, seq);
        }
    }

    #[test]
    fn add_flags_keeps_checksum_valid() {
        let mut b = sample().encode().unwrap();
        add_flags(&mut b, FLAGS_BATCH | FLAGS_ONEWAY);
        let m = Message::decode(&b, DEFAULT_MAX_MESSAGE_SIZE).unwrap();
        assert_eq!(m.flags, FLAGS_BATCH | FLAGS_ONEWAY);
    }

    #[test]
    fn rejects_bad_tag_version_checksum() {
        let good = sample().encode().unwrap();
        let mut b = good.clone();
        b[0] = b'X';
        assert!(Message::decode(&b, 1 << 20)
            .unwrap_err()
            .message
            .contains("PYRO tag"));
        let mut b = good.clone();
        b[5] = 47;
        assert!(Message::decode(&b, 1 << 20)
            .unwrap_err()
            .message
            .contains("version 47"));
        let mut b = good.clone();
        b[23] ^= 1;
        assert!(Message::decode(&b, 1 << 20)
            .unwrap_err()
            .message
            .contains("checksum"));
    }

    #[test]
    fn rejects_oversized_and_negative_lengths_before_allocating() {
        let mut h = Header {
            msg_type: MSG_RESULT,
            flags: 0,
            seq: 1,
            data_len: 0x7fff_ffff,
            serializer_id: 1,
            annotations_len: 0,
        }
        .encode();
        let e = Header::decode(&h, DEFAULT_MAX_MESSAGE_SIZE).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Protocol);
        assert!(e.message.contains("exceeds the maximum"), "{}", e.message);
        // negative length: 0xffffffff with a matching checksum
        h[12..16].copy_from_slice(&(-1i32).to_be_bytes());
        let c = checksum(MSG_RESULT, 0, 1, u32::MAX, 1, 0);
        h[22..24].copy_from_slice(&c.to_be_bytes());
        assert!(Header::decode(&h, DEFAULT_MAX_MESSAGE_SIZE)
            .unwrap_err()
            .message
            .contains("negative"));
    }

    #[test]
    fn rejects_annotations_overrunning_their_block() {
        let mut m = sample();
        m.annotations.clear();
        let mut b = m.encode().unwrap();
        // claim a 6-byte annotation block whose chunk says 100 bytes
        let hdr = Header {
            msg_type: MSG_INVOKE,
            flags: FLAGS_ONEWAY,
            seq: 7,
            data_len: 5,
            serializer_id: 1,
            annotations_len: 6,
        };
        let mut raw = hdr.encode().to_vec();
        raw.extend_from_slice(b"CORR");
        raw.extend_from_slice(&100u16.to_be_bytes());
        raw.extend_from_slice(b"hello");
        let e = Message::decode(&raw, 1 << 20).unwrap_err();
        assert!(
            e.message.contains("longer than the annotations block"),
            "{}",
            e.message
        );
        b.truncate(10);
        assert!(Message::decode(&b, 1 << 20).is_err());
    }
}
