//! JSON, Pyro4's serializer id 2, as Pyro4 4.82's `JsonSerializer` on Python 3.11 does it.
//!
//! Pyro4 sends `json.dumps(data, ensure_ascii=False, default=...)` encoded as UTF-8 and reads
//! with `json.loads(data.decode("utf-8"))` followed by `recreate_classes`. This module matches
//! that, byte for byte on the encoding side (separators `", "` and `": "`, Python's float
//! `repr()`, Python's string escaping):
//!
//! | Value | JSON sent | Decoded back as |
//! |---|---|---|
//! | `None`, `Bool` | `null`, `true`/`false` | same |
//! | `Int`, `BigInt` | JSON integer (any size) | `Int` when it fits in `i64`, else `BigInt` |
//! | `Float` | Python `repr()`; `NaN`, `Infinity`, `-Infinity` | `Float` |
//! | `Str` | UTF-8 (not `\u`-escaped), `"`, `\`, controls escaped | `Str` |
//! | `List`, `Tuple`, `Set` | array (Pyro4 turns sets into tuples) | `List` |
//! | `Dict` | object; keys `Str`, `Int`, `BigInt`, `Float`, `Bool`, `None` turned into strings as Python does | `Dict` with `Str` keys |
//! | `Object` | class dict `{"__class__": class, ...state}` | `Object` |
//! | `Bytes`, `Complex` | error: Pyro4's JsonSerializer refuses them too | - |
//!
//! Decoding:
//! - Any JSON object with a `"__class__"` key becomes `Value::Object { class, state }`, where
//!   `state` is the dict without `__class__`. Remote exceptions arrive this way, e.g.
//!   `{"__class__": "builtins.ZeroDivisionError", "__exception__": true, "args": ["division by
//!   zero"], "attributes": {"_pyroTraceback": ["Traceback ...\n"]}}` becomes an `Object` of class
//!   `builtins.ZeroDivisionError` whose state keeps `__exception__`, `args` and `attributes`.
//!   A `Pyro4.core.URI` arrives as `{"__class__": "Pyro4.core.URI", "state": [proto, object,
//!   sockname, host, port]}`.
//! - Duplicate keys: the last value wins, at the first key's position (as in Python).
//! - `\uXXXX` escapes combine surrogate pairs; a lone surrogate (which Python keeps inside its
//!   `str`) cannot live in a Rust `String` and becomes U+FFFD.
//! - Integers of more than 4300 digits are refused, as Python 3.11's `int()` limit does.
//! - Everything else Python's `json.loads` refuses is refused too: invalid UTF-8, a leading BOM,
//!   control characters inside strings, bad escapes, trailing data, `01`, `1.`, `+1`, ...
//! - Nesting deeper than [`MAX_DEPTH`] is an error, never a stack overflow: the decoder and
//!   the encoder keep open containers on a heap stack, not the call stack.
//! - An `Object` whose state is not a dict is written as `{"__class__": class, "state": state}`,
//!   the shape Pyro4 uses for URI, Proxy and Daemon.

use num_bigint::BigInt;

use crate::error::{Error, Result};
use crate::serial::MAX_DEPTH;
use crate::value::keyed::DictBuilder;
use crate::value::{Object, Value};

/// Python 3.11's default `sys.get_int_max_str_digits()`.
pub(crate) const MAX_INT_DIGITS: usize = 4300;

fn err(msg: impl std::fmt::Display) -> Error {
    Error::serialization(format!("json: {msg}"))
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Serialize `v` as Pyro4's `JsonSerializer.dumps` does.
pub fn encode(v: &Value) -> Result<Vec<u8>> {
    let mut out = String::new();
    write_value(v, &mut out, 0)?;
    Ok(out.into_bytes())
}

/// The call payload Pyro4's `JsonSerializer.dumpsCall` sends:
/// `{"object": object, "method": method, "params": [args...], "kwargs": {kwargs...}}`.
pub fn encode_call(
    object: &str,
    method: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<Vec<u8>> {
    let mut out = String::from("{\"object\": ");
    write_str(object, &mut out);
    out.push_str(", \"method\": ");
    write_str(method, &mut out);
    out.push_str(", \"params\": ");
    write_seq(args, &mut out, 2)?;
    out.push_str(", \"kwargs\": {");
    for (i, (k, v)) in kwargs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(k, &mut out);
        out.push_str(": ");
        write_value(v, &mut out, 2)?;
    }
    out.push_str("}}");
    Ok(out.into_bytes())
}

/// An open container of the iterative encoder.
enum EncFrame<'a> {
    Seq {
        items: std::slice::Iter<'a, Value>,
        first: bool,
    },
    /// `first`: no item written yet (class dicts start with `__class__` written).
    Dict {
        items: std::slice::Iter<'a, (Value, Value)>,
        first: bool,
        skip_class: bool,
    },
    /// An object whose state is not a dict: `, "state": <state>` still to write.
    ObjState(Option<&'a Value>),
}

/// Write `v` without recursion; `depth` is the nesting `v` already sits at.
fn write_value(v: &Value, out: &mut String, depth: usize) -> Result<()> {
    let mut stack: Vec<EncFrame> = Vec::new();
    let mut next = Some(v);
    loop {
        if let Some(v) = next.take() {
            if let Some(frame) = open_value(v, out)? {
                if depth + stack.len() + 1 > MAX_DEPTH {
                    return Err(err(format_args!(
                        "value nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                stack.push(frame);
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(());
        };
        match top {
            EncFrame::Seq { items, first } => match items.next() {
                Some(item) => {
                    if !std::mem::replace(first, false) {
                        out.push_str(", ");
                    }
                    next = Some(item);
                }
                None => {
                    out.push(']');
                    stack.pop();
                }
            },
            EncFrame::Dict {
                items,
                first,
                skip_class,
            } => {
                let mut item = items.next();
                if *skip_class {
                    while matches!(item, Some((Value::Str(k), _)) if k == "__class__") {
                        item = items.next();
                    }
                }
                match item {
                    Some((k, val)) => {
                        if !std::mem::replace(first, false) {
                            out.push_str(", ");
                        }
                        write_key(k, out)?;
                        out.push_str(": ");
                        next = Some(val);
                    }
                    None => {
                        out.push('}');
                        stack.pop();
                    }
                }
            }
            EncFrame::ObjState(state) => match state.take() {
                Some(st) => {
                    out.push_str(", \"state\": ");
                    next = Some(st);
                }
                None => {
                    out.push('}');
                    stack.pop();
                }
            },
        }
    }
}

/// Write a scalar, or the opening of a container (returning its frame).
fn open_value<'a>(v: &'a Value, out: &mut String) -> Result<Option<EncFrame<'a>>> {
    match v {
        Value::None => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::BigInt(b) => out.push_str(&bigint_text(b)?),
        Value::Float(f) => write_float(*f, out),
        Value::Str(s) => write_str(s, out),
        Value::Complex { .. } => {
            return Err(err(
                "cannot serialize complex numbers (Pyro4's JsonSerializer refuses them too)",
            ))
        }
        Value::Bytes(_) => {
            return Err(err(
                "cannot serialize bytes (Pyro4's JsonSerializer refuses them too; use serpent or marshal)",
            ))
        }
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            out.push('[');
            return Ok(Some(EncFrame::Seq { items: items.iter(), first: true }));
        }
        Value::Dict(items) => {
            out.push('{');
            return Ok(Some(EncFrame::Dict { items: items.iter(), first: true, skip_class: false }));
        }
        Value::Object(obj) => {
            out.push_str("{\"__class__\": ");
            write_str(&obj.class, out);
            return Ok(Some(match &obj.state {
                Value::Dict(items) => {
                    EncFrame::Dict { items: items.iter(), first: false, skip_class: true }
                }
                // Pyro4's own core objects (URI, Proxy, Daemon) use this shape.
                other => EncFrame::ObjState(Some(other)),
            }));
        }
    }
    Ok(None)
}

fn write_seq(items: &[Value], out: &mut String, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(err(format_args!(
            "value nested deeper than {MAX_DEPTH} levels"
        )));
    }
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(item, out, depth)?;
    }
    out.push(']');
    Ok(())
}

/// Python's json turns int, float, bool and None keys into strings; other keys are a TypeError.
fn write_key(k: &Value, out: &mut String) -> Result<()> {
    match k {
        Value::Str(s) => write_str(s, out),
        Value::Bool(true) => out.push_str("\"true\""),
        Value::Bool(false) => out.push_str("\"false\""),
        Value::None => out.push_str("\"null\""),
        Value::Int(i) => {
            out.push('"');
            out.push_str(&i.to_string());
            out.push('"');
        }
        Value::BigInt(b) => {
            out.push('"');
            out.push_str(&bigint_text(b)?);
            out.push('"');
        }
        Value::Float(f) => {
            out.push('"');
            write_float(*f, out);
            out.push('"');
        }
        other => {
            return Err(err(format_args!(
                "keys must be str, int, float, bool or None, not {}",
                py_type_name(other)
            )))
        }
    }
    Ok(())
}

fn bigint_text(b: &BigInt) -> Result<String> {
    let s = b.to_string();
    let digits = s.trim_start_matches('-').len();
    if digits > MAX_INT_DIGITS {
        return Err(err(format_args!(
            "integer of {digits} digits exceeds Python's limit of {MAX_INT_DIGITS} digits"
        )));
    }
    Ok(s)
}

/// Python's `type(v).__name__`.
pub(crate) fn py_type_name(v: &Value) -> &'static str {
    v.type_name()
}

fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f == f64::INFINITY {
        out.push_str("Infinity");
    } else if f == f64::NEG_INFINITY {
        out.push_str("-Infinity");
    } else {
        crate::value::float_repr_into(f, out);
    }
}

/// Python's json string escaping with `ensure_ascii=False`.
fn write_str(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Parse a JSON payload as Pyro4's `JsonSerializer.loads` does (class dicts become `Object`s).
pub fn decode(data: &[u8]) -> Result<Value> {
    if data.starts_with(b"\xEF\xBB\xBF") {
        return Err(err("unexpected UTF-8 BOM at byte 0"));
    }
    let text = std::str::from_utf8(data)
        .map_err(|e| err(format_args!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
        text,
    };
    let v = p.document()?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(err(format_args!("extra data at byte {}", p.pos)));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

/// An open container of the iterative parser.
enum Frame {
    Array(Vec<Value>),
    /// The dict so far and the key whose value is being parsed.
    Object(DictBuilder, String),
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn expecting_value(&self) -> Error {
        if self.pos >= self.s.len() {
            err(format_args!(
                "expecting value at byte {} (input truncated)",
                self.pos
            ))
        } else {
            err(format_args!("expecting value at byte {}", self.pos))
        }
    }

    fn expecting(&self, what: &str) -> Error {
        if self.pos >= self.s.len() {
            err(format_args!(
                "expecting {what} at byte {} (input truncated)",
                self.pos
            ))
        } else {
            err(format_args!("expecting {what} at byte {}", self.pos))
        }
    }

    fn lit(&mut self, word: &str) -> bool {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// `"key"` then `:` (whitespace around allowed), positioned at the value after it.
    fn key(&mut self) -> Result<String> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.expecting("property name enclosed in double quotes"));
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.expecting("':' delimiter"));
        }
        self.pos += 1;
        Ok(key)
    }

    fn push(&self, stack: &mut Vec<Frame>, frame: Frame) -> Result<()> {
        if stack.len() >= MAX_DEPTH {
            return Err(err(format_args!(
                "nesting deeper than {MAX_DEPTH} levels at byte {}",
                self.pos
            )));
        }
        stack.push(frame);
        Ok(())
    }

    /// One JSON value, without recursion: containers live on an explicit stack.
    fn document(&mut self) -> Result<Value> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            // Parse the start of a value; containers open a frame and go on to their first item.
            self.skip_ws();
            let mut done = match self.peek() {
                None => return Err(self.expecting_value()),
                Some(b'"') => Value::Str(self.string()?),
                Some(b'[') => {
                    self.push(&mut stack, Frame::Array(Vec::new()))?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        stack.pop();
                        Value::List(Vec::new())
                    } else {
                        continue 'value;
                    }
                }
                Some(b'{') => {
                    self.push(&mut stack, Frame::Object(DictBuilder::new(), String::new()))?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        stack.pop();
                        Value::Dict(Vec::new())
                    } else {
                        let k = self.key()?;
                        if let Some(Frame::Object(_, key)) = stack.last_mut() {
                            *key = k;
                        }
                        continue 'value;
                    }
                }
                Some(b'n') if self.lit("null") => Value::None,
                Some(b't') if self.lit("true") => Value::Bool(true),
                Some(b'f') if self.lit("false") => Value::Bool(false),
                Some(b'N') if self.lit("NaN") => Value::Float(f64::NAN),
                Some(b'I') if self.lit("Infinity") => Value::Float(f64::INFINITY),
                Some(b'-') if self.lit("-Infinity") => Value::Float(f64::NEG_INFINITY),
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return Err(self.expecting_value()),
            };
            // A value is complete: hand it to the enclosing container, closing containers
            // as long as their end follows.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(done);
                };
                self.skip_ws();
                match top {
                    Frame::Array(items) => {
                        items.push(done);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                done = match stack.pop() {
                                    Some(Frame::Array(items)) => Value::List(items),
                                    _ => return Err(err("internal parser state")),
                                };
                            }
                            _ => return Err(self.expecting("',' or ']'")),
                        }
                    }
                    Frame::Object(dict, key) => {
                        dict.insert(Value::Str(std::mem::take(key)), done);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                let k = self.key()?;
                                if let Some(Frame::Object(_, key)) = stack.last_mut() {
                                    *key = k;
                                }
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                done = match stack.pop() {
                                    Some(Frame::Object(dict, _)) => {
                                        finish_dict(dict.finish(), "json")?
                                    }
                                    _ => return Err(err("internal parser state")),
                                };
                            }
                            _ => return Err(self.expecting("',' or '}'")),
                        }
                    }
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while let Some(b'0'..=b'9') = p.peek() {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => {
                self.pos = start;
                return Err(self.expecting_value());
            }
        }
        let int_end = self.pos;
        let mut is_float = false;
        // Python's regex: (\.\d+)?([eE][-+]?\d+)? -- a part that does not match is left over
        // (and then reported as extra data), exactly like Python.
        if self.peek() == Some(b'.') {
            let save = self.pos;
            self.pos += 1;
            if digits(self) == 0 {
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        let text = &self.text[start..self.pos];
        if is_float {
            let f: f64 = text
                .parse()
                .map_err(|_| err(format_args!("bad number {text:?} at byte {start}")))?;
            return Ok(Value::Float(f));
        }
        let text = &self.text[start..int_end];
        // Gives up at the first digit past i64 (at most 20 read), so only the BigInt parse
        // needs the digit count first.
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        let ndigits = text.len() - usize::from(text.starts_with('-'));
        if ndigits > MAX_INT_DIGITS {
            return Err(err(format_args!(
                "integer of {ndigits} digits at byte {start} exceeds Python's limit of {MAX_INT_DIGITS} digits"
            )));
        }
        let b: BigInt = text
            .parse()
            .map_err(|_| err(format_args!("bad integer at byte {start}")))?;
        Ok(Value::from_bigint(b))
    }

    fn hex4(&self, at: usize) -> Result<u32> {
        let bytes = self.s.get(at..at + 4).ok_or_else(|| {
            err(format_args!(
                "invalid \\uXXXX escape at byte {} (input truncated)",
                at - 2
            ))
        })?;
        let mut n = 0u32;
        for &b in bytes {
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| err(format_args!("invalid \\uXXXX escape at byte {}", at - 2)))?;
            n = n * 16 + d;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String> {
        let open = self.pos;
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            // copy a run of ordinary characters
            let run_start = self.pos;
            while let Some(&b) = self.s.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => {
                    return Err(err(format_args!(
                        "unterminated string starting at byte {open}"
                    )))
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let esc_at = self.pos;
                    let c = self.s.get(self.pos + 1).copied().ok_or_else(|| {
                        err(format_args!("unterminated string starting at byte {open}"))
                    })?;
                    self.pos += 2;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut u = self.hex4(self.pos)?;
                            self.pos += 4;
                            if (0xD800..0xDC00).contains(&u)
                                && self.s.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                let u2 = self.hex4(self.pos + 2)?;
                                if (0xDC00..0xE000).contains(&u2) {
                                    u = 0x10000 + (((u - 0xD800) << 10) | (u2 - 0xDC00));
                                    self.pos += 6;
                                }
                            }
                            // Lone surrogates (kept by Python) cannot live in a Rust String.
                            out.push(char::from_u32(u).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err(err(format_args!("invalid \\escape at byte {esc_at}"))),
                    }
                }
                Some(_) => {
                    return Err(err(format_args!(
                        "invalid control character in string at byte {}",
                        self.pos
                    )))
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared with the marshal module
// ---------------------------------------------------------------------------------------------

/// Turn a decoded dict into a `Value::Object` when it has a `__class__` key (Pyro4's
/// `recreate_classes`), else keep it a `Dict`. The class name may be str (or, from marshal,
/// UTF-8 bytes, which Pyro4 also accepts).
pub(crate) fn finish_dict(items: Vec<(Value, Value)>, format: &str) -> Result<Value> {
    let pos = items
        .iter()
        .position(|(k, _)| matches!(k, Value::Str(s) if s == "__class__"));
    let Some(pos) = pos else {
        return Ok(Value::Dict(items));
    };
    let mut items = items;
    let (_, class) = items.remove(pos);
    let class = match class {
        Value::Str(s) => s,
        Value::Bytes(b) => String::from_utf8(b).map_err(|_| {
            Error::serialization(format!(
                "{format}: class dict with a non-UTF-8 __class__ name"
            ))
        })?,
        other => {
            return Err(Error::serialization(format!(
                "{format}: class dict with a __class__ of type {} (expected str)",
                py_type_name(&other)
            )))
        }
    };
    Ok(Value::Object(Box::new(Object {
        class,
        state: Value::Dict(items),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's 4300-digit limit is applied by count, before a BigInt parse; floats of any
    /// length parse (linearly), as Python's do.
    #[test]
    fn number_lengths() {
        let big = "7".repeat(2_000_000);
        for text in [
            format!("[{big}]"),
            format!("[-{big}]"),
            format!("{{\"a\": {big}}}"),
        ] {
            let e = decode(text.as_bytes()).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Serialization);
            assert!(
                e.message.contains("exceeds Python's limit"),
                "{}",
                e.message
            );
        }
        let at_limit = "9".repeat(MAX_INT_DIGITS);
        assert_eq!(
            decode(at_limit.as_bytes()).unwrap().kind(),
            crate::value::ValueKind::BigInt
        );
        assert!(decode(format!("{at_limit}9").as_bytes()).is_err());
        assert_eq!(
            decode(b"-9223372036854775808").unwrap(),
            Value::Int(i64::MIN)
        );
        assert_eq!(
            decode(b"9223372036854775808").unwrap().kind(),
            crate::value::ValueKind::BigInt
        );
        let long_float = format!("[{big}.5, 0.{big}e-5]");
        let Value::List(fs) = decode(long_float.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(fs[0], Value::Float(f64::INFINITY));
        assert_eq!(fs[1], Value::Float(7.777_777_777_777_778e-6));
    }

    #[test]
    fn float_repr_like_python() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e100, "1e+100"),
            (-2.5e-300, "-2.5e-300"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9999999999999998.0, "9999999999999998.0"),
            (12345.678, "12345.678"),
            (1616811183465406.0 + 0.25, "1616811183465406.2"),
            (2.5, "2.5"),
        ];
        for (f, s) in cases {
            assert_eq!(crate::value::float_repr(f), s, "{f:e}");
        }
    }
}
