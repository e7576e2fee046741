//! The Pyro4 conversation as pure functions: build CONNECT and INVOKE messages,
//! interpret CONNECTOK/CONNECTFAIL and RESULT replies. Shared by the reactor and the
//! blocking client.

use crate::client::remote_error::remote_error_from_value;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::*;
use crate::serial::{self, SerializerId};
use crate::value::Value;
use std::collections::HashSet;

/// What the server said at connect time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectInfo {
    pub handshake: Value,
    pub methods: Vec<String>,
    pub oneway: Vec<String>,
    pub attrs: Vec<String>,
    /// `methods` and `oneway` again, hashed: every call is routed by them, and a server
    /// may list any number of names.
    lookup: MethodLookup,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct MethodLookup {
    methods: HashSet<String>,
    oneway: HashSet<String>,
}

impl ConnectInfo {
    pub fn new(
        handshake: Value,
        methods: Vec<String>,
        oneway: Vec<String>,
        attrs: Vec<String>,
    ) -> Self {
        let lookup = MethodLookup {
            methods: methods.iter().cloned().collect(),
            oneway: oneway.iter().cloned().collect(),
        };
        ConnectInfo {
            handshake,
            methods,
            oneway,
            attrs,
            lookup,
        }
    }

    /// The metadata lists `method` among the exposed methods.
    pub fn has_method(&self, method: &str) -> bool {
        self.lookup.methods.contains(method)
    }

    /// The metadata lists `method` as oneway.
    pub fn is_oneway(&self, method: &str) -> bool {
        self.lookup.oneway.contains(method)
    }
}

pub fn encode_value(serializer: SerializerId, v: &Value) -> Result<Vec<u8>> {
    match serializer {
        SerializerId::Serpent => serial::serpent::encode(v),
        SerializerId::Json => serial::json::encode(v),
        SerializerId::Marshal => serial::marshal::encode(v),
        SerializerId::Pickle => serial::pickle::encode(v),
    }
}

pub fn decode_value(serializer_id: u16, data: &[u8]) -> Result<Value> {
    match SerializerId::from_u16(serializer_id) {
        Some(SerializerId::Serpent) => serial::serpent::decode(data),
        Some(SerializerId::Json) => serial::json::decode(data),
        Some(SerializerId::Marshal) => serial::marshal::decode(data),
        Some(SerializerId::Pickle) => serial::pickle::decode(data),
        None => Err(Error::protocol(format!(
            "unknown serializer id {serializer_id} in reply"
        ))),
    }
}

/// The CONNECT request Pyro4's proxy sends (metadata piggybacked on the reply).
pub fn connect_message(
    seq: u16,
    serializer: SerializerId,
    object: &str,
    handshake: &Value,
) -> Result<Message> {
    let data = Value::Dict(vec![
        (Value::str("handshake"), handshake.clone()),
        (Value::str("object"), Value::str(object)),
    ]);
    let bytes = encode_value(serializer, &data)?;
    Ok(Message::new(
        MSG_CONNECT,
        FLAGS_META_ON_CONNECT,
        seq,
        serializer as u16,
        bytes,
    ))
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(|v| v.as_seq())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Interpret the server's answer to CONNECT.
pub fn parse_connect_reply(msg: &Message, serializer: SerializerId) -> Result<ConnectInfo> {
    match msg.msg_type {
        MSG_CONNECTOK => {
            if msg.serializer_id != serializer as u16 {
                return Err(Error::protocol(format!(
                    "handshake reply uses serializer {}, expected {}",
                    msg.serializer_id, serializer as u16
                )));
            }
            let reply = if msg.data.is_empty() {
                Value::None
            } else {
                decode_value(msg.serializer_id, &msg.data)?
            };
            if msg.flags & FLAGS_META_ON_CONNECT != 0 {
                let meta = reply.dict_get_str("meta");
                let names = |key| str_list(meta.and_then(|m| m.dict_get_str(key)));
                Ok(ConnectInfo::new(
                    reply
                        .dict_get_str("handshake")
                        .cloned()
                        .unwrap_or(Value::None),
                    names("methods"),
                    names("oneway"),
                    names("attrs"),
                ))
            } else {
                Ok(ConnectInfo {
                    handshake: reply,
                    ..Default::default()
                })
            }
        }
        MSG_CONNECTFAIL => Err(Error::communication(format!(
            "connection rejected by the server: {}",
            refusal_reason(msg, serializer)
        ))),
        other => Err(Error::protocol(format!(
            "invalid message type {other} in reply to connect"
        ))),
    }
}

/// The server's reason for a CONNECTFAIL: Pyro4 sends `str()` of the exception that
/// refused the connection, encoded with the client's serializer, or with marshal when it
/// refused before reading the request (a serializer it does not accept, a connection it
/// has no worker for).
fn refusal_reason(msg: &Message, serializer: SerializerId) -> String {
    let reason = match decode_value(msg.serializer_id, &msg.data) {
        Ok(Value::Str(s)) => s,
        Ok(other) => crate::error::repr_preview(&other),
        Err(_) => printable_reason(&msg.data),
    };
    // Pyro4 names a refused serializer by its number only.
    if reason.starts_with("message used serializer that is not accepted") {
        format!("{reason} ({})", serializer.name())
    } else {
        reason
    }
}

/// Best effort text from an undecodable payload.
fn printable_reason(data: &[u8]) -> String {
    let text: String = data
        .iter()
        .map(|&b| b as char)
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .collect();
    if text.is_empty() {
        "(no reason given)".into()
    } else {
        text
    }
}

/// An INVOKE request; `kwargs` keys are str by construction.
pub fn invoke_message(
    seq: u16,
    serializer: SerializerId,
    object: &str,
    method: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
    flags: u16,
) -> Result<Message> {
    // Each serializer has Pyro4's own call shape (json: a dict; the others: a tuple).
    let data = match serializer {
        SerializerId::Json => serial::json::encode_call(object, method, args, kwargs)?,
        SerializerId::Marshal => serial::marshal::encode_call(object, method, args, kwargs)?,
        SerializerId::Pickle => serial::pickle::encode_call(object, method, args, kwargs)?,
        SerializerId::Serpent => serial::serpent::encode_call(object, method, args, kwargs)?,
    };
    Ok(Message::new(
        MSG_INVOKE,
        flags,
        seq,
        serializer as u16,
        data,
    ))
}

/// Interpret a RESULT: the value, or the remote exception as a REMOTE error.
/// A message of the wrong type, sequence or serializer is a PROTOCOL error.
pub fn parse_result(msg: &Message, expected_seq: u16, serializer: SerializerId) -> Result<Value> {
    check_result(msg, expected_seq, serializer)?;
    result_value(msg)
}

/// Whether `msg` is the RESULT of the call sent with `expected_seq` (the header only:
/// costs nothing that grows with the payload).
pub fn check_result(msg: &Message, expected_seq: u16, serializer: SerializerId) -> Result<()> {
    if msg.msg_type != MSG_RESULT {
        return Err(Error::protocol(format!(
            "expected a RESULT message, got type {}",
            msg.msg_type
        )));
    }
    if msg.seq != expected_seq {
        return Err(Error::protocol(format!(
            "reply has sequence number {}, expected {expected_seq}",
            msg.seq
        )));
    }
    if msg.serializer_id != serializer as u16 {
        return Err(Error::protocol(format!(
            "reply uses serializer {}, the request used {}",
            msg.serializer_id, serializer as u16
        )));
    }
    Ok(())
}

/// The value of a checked, decompressed RESULT, or its remote exception.
pub fn result_value(msg: &Message) -> Result<Value> {
    if msg.flags & FLAGS_COMPRESSED != 0 {
        return Err(Error::protocol("compressed reply was not decompressed"));
    }
    let value = decode_value(msg.serializer_id, &msg.data)?;
    if msg.flags & FLAGS_EXCEPTION != 0 {
        return Err(match remote_error_from_value(&value) {
            Some(r) => Error::remote(r),
            None => Error::new(
                ErrorKind::Remote,
                format!(
                    "the server raised an exception in an unknown form: {}",
                    crate::error::repr_preview(&value)
                ),
            ),
        });
    }
    Ok(value)
}

/// Class name of the value a call gets when its method returned an iterator (Pyro4's
/// item streaming); its state holds the server-side `streamId`.
pub const STREAM_CLASS: &str = "Pyro4.core._StreamResultIterator";

pub fn stream_marker(stream_id: &str) -> Value {
    Value::Object(Box::new(crate::value::Object {
        class: STREAM_CLASS.into(),
        state: Value::Dict(vec![(Value::str("streamId"), Value::str(stream_id))]),
    }))
}

/// The stream id if `v` is a stream marker.
pub fn stream_id(v: &Value) -> Option<&str> {
    match v {
        Value::Object(o) if o.class == STREAM_CLASS => o.state.dict_get_str("streamId")?.as_str(),
        _ => None,
    }
}

/// Per-proxy message options: applied to every request, checked on every reply.
#[derive(Debug, Clone, PartialEq)]
pub struct WireOptions {
    /// Pyro4's `_pyroHmacKey`: sign requests, require and verify the reply HMAC.
    pub hmac_key: Option<Vec<u8>>,
    /// zlib-compress request data (when it helps, as Pyro4's COMPRESSION does).
    pub compress: bool,
    /// Extra request annotations (e.g. "CORR" with a 16-byte correlation id).
    pub annotations: Annotations,
    /// Data sent with the connect handshake (Pyro4's `_pyroHandshake`, default "hello").
    pub handshake: Value,
}

impl Default for WireOptions {
    fn default() -> Self {
        WireOptions {
            hmac_key: None,
            compress: false,
            annotations: Vec::new(),
            handshake: Value::str("hello"),
        }
    }
}

impl WireOptions {
    /// Annotations, compression, then the HMAC over the final bytes.
    pub fn finish_request(&self, msg: &mut Message) {
        for (k, v) in &self.annotations {
            msg.annotations.retain(|(mk, _)| mk != k);
            msg.annotations.push((*k, v.clone()));
        }
        if self.compress {
            crate::protocol::security::compress(msg);
        }
        if let Some(key) = &self.hmac_key {
            crate::protocol::security::sign(msg, key);
        }
    }

    /// Verify the HMAC, then undo compression (bounded by `max_len`).
    pub fn open_reply(&self, msg: &mut Message, max_len: usize) -> Result<()> {
        self.verify_reply(msg)?;
        crate::protocol::security::decompress(msg, max_len)
    }

    /// Verify the HMAC (Pyro4 signs the data as sent, so before decompression).
    pub fn verify_reply(&self, msg: &Message) -> Result<()> {
        crate::protocol::security::verify(msg, self.hmac_key.as_deref())
    }

    /// The request's final bytes: options applied, then refused if it is larger than
    /// the peer-facing `max_len` (as Pyro4 refuses to send it), before anything is sent.
    pub fn seal_request(&self, msg: &mut Message, max_len: usize) -> Result<Vec<u8>> {
        self.finish_request(msg);
        let size = msg.data.len() + msg.annotations_len();
        if size > max_len {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "request of {size} bytes exceeds max_message_size ({max_len} bytes); \
                     nothing was sent"
                ),
            ));
        }
        msg.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CONNECTOK whose metadata lists 200k methods (100k oneway), in each serializer with
    /// sets (serpent sends Python sets as set literals; marshal as sets). Decoding a set
    /// of that size scanned per element in serpent (minutes, on the I/O thread).
    #[test]
    fn metadata_with_200k_methods() {
        let n = 200_000;
        let names: Vec<Value> = (0..n).map(|i| Value::str(format!("m{i}"))).collect();
        let oneway: Vec<Value> = names.iter().step_by(2).cloned().collect();
        let reply = Value::Dict(vec![
            (Value::str("handshake"), Value::str("hi")),
            (
                Value::str("meta"),
                Value::Dict(vec![
                    (Value::str("methods"), Value::Set(names)),
                    (Value::str("oneway"), Value::Set(oneway)),
                    (Value::str("attrs"), Value::Set(vec![Value::str("a")])),
                ]),
            ),
        ]);
        for ser in [SerializerId::Serpent, SerializerId::Marshal] {
            let data = encode_value(ser, &reply).unwrap();
            let msg = Message::new(MSG_CONNECTOK, FLAGS_META_ON_CONNECT, 1, ser as u16, data);
            let info = parse_connect_reply(&msg, ser).unwrap();
            assert_eq!(info.methods.len(), n);
            assert_eq!(info.oneway.len(), n / 2);
            assert_eq!(info.attrs, ["a"]);
            assert_eq!(info.handshake, Value::str("hi"));
            assert!(info.has_method("m199999") && !info.has_method("m200000"));
            assert!(info.is_oneway("m4") && !info.is_oneway("m5"));
        }
    }

    /// A remote exception whose args are as large as a message: an int of 15 million bits
    /// (its decimal form took seconds, minutes at the 64 MiB message limit) and 4 MB of
    /// bytes (a 16 MB message text). The message is cut; the args stay whole.
    #[test]
    fn huge_exception_args_make_a_bounded_message() {
        let mut long = vec![b'l'];
        let digits = 1_000_000u32;
        long.extend_from_slice(&digits.to_le_bytes());
        for _ in 0..digits {
            long.extend_from_slice(&0x7fffu16.to_le_bytes());
        }
        let mut bytes = vec![b's'];
        bytes.extend_from_slice(&4_000_000u32.to_le_bytes());
        bytes.extend(std::iter::repeat_n(0xffu8, 4_000_000));
        let exception = |args: &[&[u8]]| {
            let mut d = b"{\xda\x09__class__\xda\x0ebuiltins.Error\xda\x04args)".to_vec();
            d.push(args.len() as u8);
            for a in args {
                d.extend_from_slice(a);
            }
            d.push(b'0');
            d
        };
        for args in [
            vec![&long[..]],
            vec![&bytes[..]],
            vec![&long[..], &bytes[..]],
        ] {
            let data = exception(&args);
            let msg = Message::new(
                MSG_RESULT,
                FLAGS_EXCEPTION,
                7,
                SerializerId::Marshal as u16,
                data,
            );
            let e = parse_result(&msg, 7, SerializerId::Marshal).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Remote);
            assert!(
                e.message.len() < 2 * crate::error::MESSAGE_REPR_LIMIT,
                "{}",
                e.message.len()
            );
            let remote = e.remote.unwrap();
            assert_eq!(remote.type_name, "builtins.Error");
            assert_eq!(remote.args.as_seq().unwrap().len(), args.len());
        }
        let e = parse_result(
            &Message::new(
                MSG_RESULT,
                FLAGS_EXCEPTION,
                7,
                SerializerId::Marshal as u16,
                bytes.clone(),
            ),
            7,
            SerializerId::Marshal,
        )
        .unwrap_err();
        assert!(e.message.len() < 2 * crate::error::MESSAGE_REPR_LIMIT);
        assert!(
            e.message.ends_with("..."),
            "{}",
            &e.message[e.message.len() - 20..]
        );
        // small args still read as Python's str(exc)
        let small = exception(&[b"i\x01\x00\x00\x00", b"z\x01a"]);
        let msg = Message::new(
            MSG_RESULT,
            FLAGS_EXCEPTION,
            7,
            SerializerId::Marshal as u16,
            small,
        );
        assert_eq!(
            parse_result(&msg, 7, SerializerId::Marshal)
                .unwrap_err()
                .message,
            "(1, 'a')"
        );
    }
}
