//! Pyro4's json serializer (id 2): Python's `json` module output with
//! `ensure_ascii=False`, plus Pyro4's conventions: calls are a dict
//! `{"object", "method", "params", "kwargs"}`; sets and tuples travel as arrays; class
//! dicts (`__class__`) carry exceptions and other objects.

use super::MAX_DEPTH;
use crate::error::{Error, Result};
use crate::value::{float_repr, Value};
use num_bigint::BigInt;
use std::fmt::Write;

/// Encode as `json.dumps(value, ensure_ascii=False)` would.
pub fn encode(v: &Value) -> Result<Vec<u8>> {
    let mut out = String::new();
    write_value(v, &mut out, 0)?;
    Ok(out.into_bytes())
}

/// A call as Pyro4's JsonSerializer.dumpsCall sends it.
pub fn encode_call(
    object: &str,
    method: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<Vec<u8>> {
    let call = Value::Dict(vec![
        (Value::str("object"), Value::str(object)),
        (Value::str("method"), Value::str(method)),
        (Value::str("params"), Value::List(args.to_vec())),
        (
            Value::str("kwargs"),
            Value::Dict(
                kwargs
                    .iter()
                    .map(|(k, v)| (Value::str(k.as_str()), v.clone()))
                    .collect(),
            ),
        ),
    ]);
    encode(&call)
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        out.push_str(&float_repr(f));
    }
}

fn write_seq(items: &[Value], out: &mut String, depth: usize) -> Result<()> {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(item, out, depth + 1)?;
    }
    out.push(']');
    Ok(())
}

/// JSON object keys are strings; Python's json converts int, float, bool and None keys.
fn write_key(k: &Value, out: &mut String) -> Result<()> {
    match k {
        Value::Str(s) => write_str(s, out),
        Value::Int(i) => write_str(&i.to_string(), out),
        Value::BigInt(b) => write_str(&b.to_string(), out),
        Value::Bool(b) => write_str(if *b { "true" } else { "false" }, out),
        Value::None => write_str("null", out),
        Value::Float(f) => {
            let mut s = String::new();
            write_float(*f, &mut s);
            write_str(&s, out)
        }
        other => {
            return Err(Error::serialization(format!(
                "json dict keys must be str, int, float, bool or None, not {:?}",
                other.kind()
            )))
        }
    }
    Ok(())
}

fn write_value(v: &Value, out: &mut String, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::serialization("value nested too deeply to serialize"));
    }
    match v {
        Value::None => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Float(f) => write_float(*f, out),
        Value::Str(s) => write_str(s, out),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
            write_seq(items, out, depth)?
        }
        Value::Dict(items) => {
            out.push('{');
            for (i, (k, val)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_key(k, out)?;
                out.push_str(": ");
                write_value(val, out, depth + 1)?;
            }
            out.push('}');
        }
        Value::Object(o) => {
            out.push_str("{\"__class__\": ");
            write_str(&o.class, out);
            match &o.state {
                Value::Dict(items) => {
                    for (k, val) in items {
                        out.push_str(", ");
                        write_key(k, out)?;
                        out.push_str(": ");
                        write_value(val, out, depth + 1)?;
                    }
                }
                other => {
                    out.push_str(", \"state\": ");
                    write_value(other, out, depth + 1)?;
                }
            }
            out.push('}');
        }
        Value::Bytes(_) | Value::Complex { .. } => {
            return Err(Error::serialization(format!(
                "json cannot carry {:?} values (Pyro4's json serializer refuses them too)",
                v.kind()
            )))
        }
    }
    Ok(())
}

/// Decode JSON as Python's `json.loads` does (NaN/Infinity accepted, big ints kept);
/// class dicts become objects.
pub fn decode(data: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(data)
        .map_err(|e| Error::serialization(format!("json data is not valid UTF-8: {e}")))?;
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        pos: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return p.err("unexpected trailing data");
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: &str) -> Result<T> {
        Err(Error::serialization(format!(
            "invalid json: {what} at offset {}",
            self.pos
        )))
    }

    fn ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn lit(&mut self, word: &str, v: Value) -> Result<Value> {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else {
            self.err("unexpected token")
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return self.err(&format!("nesting deeper than {MAX_DEPTH}"));
        }
        self.ws();
        match self.s.get(self.pos) {
            None => self.err("unexpected end of data"),
            Some(b'n') => self.lit("null", Value::None),
            Some(b't') => self.lit("true", Value::Bool(true)),
            Some(b'f') => self.lit("false", Value::Bool(false)),
            Some(b'N') => self.lit("NaN", Value::Float(f64::NAN)),
            Some(b'I') => self.lit("Infinity", Value::Float(f64::INFINITY)),
            Some(b'"') => self.string().map(Value::Str),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Value::List(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::List(items));
                        }
                        _ => return self.err("expected ',' or ']'"),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut dict = Value::Dict(Vec::new());
                self.ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(dict);
                }
                loop {
                    self.ws();
                    if self.s.get(self.pos) != Some(&b'"') {
                        return self.err("expected a string key");
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.pos) != Some(&b':') {
                        return self.err("expected ':'");
                    }
                    self.pos += 1;
                    let v = self.value(depth + 1)?;
                    dict.dict_set(Value::Str(k), v);
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(super::class_dict(dict));
                        }
                        _ => return self.err("expected ',' or '}'"),
                    }
                }
            }
            Some(b'-') if self.src[self.pos..].starts_with("-Infinity") => {
                self.pos += "-Infinity".len();
                Ok(Value::Float(f64::NEG_INFINITY))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.err("unexpected character"),
        }
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        let mut float = false;
        if self.s[self.pos] == b'-' {
            self.pos += 1;
        }
        while let Some(&c) = self.s.get(self.pos) {
            match c {
                b'0'..=b'9' => {}
                b'.' | b'e' | b'E' => float = true,
                b'+' | b'-' if float => {}
                _ => break,
            }
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        if text.len() > 4300 {
            return self.err("number literal too long");
        }
        if float {
            return match text.parse::<f64>() {
                Ok(f) => Ok(Value::Float(f)),
                Err(_) => self.err("invalid number"),
            };
        }
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        match BigInt::parse_bytes(text.as_bytes(), 10) {
            Some(b) => Ok(Value::from_bigint(b)),
            None => self.err("invalid number"),
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let Some(h) = self.src.get(self.pos..self.pos + 4) else {
            return self.err("truncated \\u escape");
        };
        match u32::from_str_radix(h, 16) {
            Ok(v) if h.bytes().all(|c| c.is_ascii_hexdigit()) => {
                self.pos += 4;
                Ok(v)
            }
            _ => self.err("invalid \\u escape"),
        }
    }

    fn string(&mut self) -> Result<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while self.pos < self.s.len() && self.s[self.pos] != b'"' && self.s[self.pos] != b'\\' {
                if self.s[self.pos] < 0x20 {
                    return self.err("control character in string");
                }
                self.pos += 1;
            }
            out.push_str(&self.src[start..self.pos]);
            match self.s.get(self.pos) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => {}
            }
            self.pos += 1;
            let Some(&e) = self.s.get(self.pos) else {
                return self.err("unterminated escape");
            };
            self.pos += 1;
            match e {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = self.hex4()?;
                    let c = if (0xD800..0xDC00).contains(&hi)
                        && self.src[self.pos..].starts_with("\\u")
                    {
                        let save = self.pos;
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        } else {
                            self.pos = save;
                            None
                        }
                    } else {
                        char::from_u32(hi)
                    };
                    // A lone surrogate cannot live in a Rust string: U+FFFD, as documented.
                    out.push(c.unwrap_or('\u{FFFD}'));
                }
                _ => return self.err("invalid escape"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::serpent::parse_literal;

    #[test]
    fn round_trips_and_python_shapes() {
        let v = parse_literal("{'a': [1, 2.5, None, True, 'h\\u00e9 \\U0001f600'], 'big': 123456789012345678901234567890}").unwrap();
        let enc = String::from_utf8(encode(&v).unwrap()).unwrap();
        assert_eq!(
            enc,
            "{\"a\": [1, 2.5, null, true, \"hé 😀\"], \"big\": 123456789012345678901234567890}"
        );
        assert_eq!(decode(enc.as_bytes()).unwrap(), v);
        assert_eq!(
            decode(b"[NaN, Infinity, -Infinity, 1e5, \"\\ud83d\\ude00\\ud800x\"]")
                .unwrap()
                .repr(),
            "[nan, inf, -inf, 100000.0, '😀\u{fffd}x']"
        );
        let t = parse_literal("((1, 2), {3})").unwrap();
        assert_eq!(
            decode(&encode(&t).unwrap()).unwrap().repr(),
            "[[1, 2], [3]]"
        );
        let ex = decode(br#"{"__class__": "builtins.ValueError", "__exception__": true, "args": ["bad"], "attributes": {}}"#).unwrap();
        assert!(matches!(&ex, Value::Object(o) if o.class == "builtins.ValueError"));
    }

    #[test]
    fn hostile_json() {
        for bad in [
            "[".repeat(100_000),
            "{\"a\": ".repeat(50_000),
            "\"abc".into(),
            "[1,]".into(),
            "01x".into(),
            "9".repeat(100_000),
            "\"\\u12\"".into(),
            "".into(),
        ] {
            assert!(
                decode(bad.as_bytes()).is_err(),
                "{}",
                &bad[..bad.len().min(30)]
            );
        }
        assert!(encode(&Value::Bytes(vec![1])).is_err());
    }
}
