//! Message signing (Pyro4's HMAC annotation) and zlib compression. Pure functions.

use super::{Message, FLAGS_COMPRESSED};
use crate::error::{Error, ErrorKind, Result};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::io::Read;

const HMAC_KEY: [u8; 4] = *b"HMAC";

/// Pyro4's HMAC: HMAC-SHA1 over the data (as sent, i.e. after compression), then every
/// other annotation value in key order.
pub fn hmac_of(key: &[u8], msg: &Message) -> [u8; 20] {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(&msg.data);
    let mut anns: Vec<&([u8; 4], Vec<u8>)> = msg
        .annotations
        .iter()
        .filter(|(k, _)| *k != HMAC_KEY)
        .collect();
    anns.sort_by_key(|a| a.0);
    for (_, v) in anns {
        mac.update(v);
    }
    mac.finalize().into_bytes().into()
}

/// Add (or replace) the HMAC annotation; must be the last change to the message.
pub fn sign(msg: &mut Message, key: &[u8]) {
    msg.annotations.retain(|(k, _)| *k != HMAC_KEY);
    let h = hmac_of(key, msg);
    msg.annotations.push((HMAC_KEY, h.to_vec()));
}

/// Check a received message's HMAC as Pyro4 does: with a key, the HMAC must be there and
/// match; without one, it must be absent.
pub fn verify(msg: &Message, key: Option<&[u8]>) -> Result<()> {
    let got = msg.annotation(&HMAC_KEY);
    match (key, got) {
        (Some(key), Some(got)) => {
            let want = hmac_of(key, msg);
            // constant-time comparison
            let diff = want.iter().zip(got).fold(got.len() ^ want.len(), |d, (a, b)| d | (a ^ b) as usize);
            if diff != 0 {
                return Err(Error::new(ErrorKind::Security, "message HMAC mismatch (wrong HMAC key?)"));
            }
            Ok(())
        }
        (None, None) => Ok(()),
        (Some(_), None) => Err(Error::new(
            ErrorKind::Security,
            "hmac key config not symmetric: the server sent no HMAC but this proxy has a key",
        )),
        (None, Some(_)) => Err(Error::new(
            ErrorKind::Security,
            "hmac key config not symmetric: the server signs its messages but this proxy has no HMAC key",
        )),
    }
}

/// Compress data as Pyro4 does: zlib, only for 200 bytes or more and only when smaller.
pub fn compress(msg: &mut Message) {
    if msg.data.len() < 200 {
        return;
    }
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    use std::io::Write;
    if enc.write_all(&msg.data).is_ok() {
        if let Ok(z) = enc.finish() {
            if z.len() < msg.data.len() {
                msg.data = z;
                msg.flags |= FLAGS_COMPRESSED;
            }
        }
    }
}

/// Undo compression, never producing more than `max_len` bytes (a small zlib stream can
/// claim gigabytes).
pub fn decompress(msg: &mut Message, max_len: usize) -> Result<()> {
    if msg.flags & FLAGS_COMPRESSED == 0 {
        return Ok(());
    }
    let mut out = Vec::new();
    let mut dec = flate2::read::ZlibDecoder::new(&msg.data[..]).take(max_len as u64 + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| Error::protocol(format!("invalid compressed message data: {e}")))?;
    if out.len() > max_len {
        return Err(Error::protocol(format!(
            "compressed message expands beyond the maximum of {max_len} bytes"
        )));
    }
    msg.data = out;
    msg.flags &= !FLAGS_COMPRESSED;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MSG_RESULT;

    #[test]
    fn sign_verify_and_mismatch() {
        let mut m = Message::new(MSG_RESULT, 0, 1, 1, b"data".to_vec());
        m.annotations.push((*b"CORR", vec![7; 16]));
        sign(&mut m, b"secret");
        verify(&m, Some(b"secret")).unwrap();
        assert_eq!(
            verify(&m, Some(b"other")).unwrap_err().kind,
            ErrorKind::Security
        );
        assert!(verify(&m, None)
            .unwrap_err()
            .message
            .contains("not symmetric"));
        m.data[0] ^= 1;
        assert!(verify(&m, Some(b"secret")).is_err());
    }

    #[test]
    fn compression_round_trip_and_bomb_limit() {
        let mut m = Message::new(MSG_RESULT, 0, 1, 1, vec![b'a'; 10_000]);
        compress(&mut m);
        assert!(m.flags & FLAGS_COMPRESSED != 0 && m.data.len() < 1000);
        let mut small = m.clone();
        assert!(decompress(&mut small, 5_000)
            .unwrap_err()
            .message
            .contains("beyond"));
        decompress(&mut m, 1 << 20).unwrap();
        assert_eq!(m.data, vec![b'a'; 10_000]);
        let mut garbage = Message::new(
            MSG_RESULT,
            FLAGS_COMPRESSED,
            1,
            1,
            b"not zlib at all".to_vec(),
        );
        assert_eq!(
            decompress(&mut garbage, 1 << 20).unwrap_err().kind,
            ErrorKind::Protocol
        );
    }
}
