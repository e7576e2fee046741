//! Pyro4's marshal serializer (id 3): CPython 3's `marshal` format (version 4, as
//! Python 3.11 writes it) for plain data; objects travel as Pyro4 class dicts.
//!
//! The decoder reads every type code Python 3.11 emits for data (including the
//! reference table behind FLAG_REF); code objects are refused. Lengths are checked
//! against the remaining input before anything is allocated.

use super::MAX_DEPTH;
use crate::error::{Error, Result};
use crate::value::Value;
use num_bigint::{BigInt, Sign};
use num_traits::{ToPrimitive, Zero};

const FLAG_REF: u8 = 0x80;

/// Encode as Python's `marshal.dumps` would (without the reference table, which Python
/// does not need to read it back).
pub fn encode(v: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write(v, &mut out, 0)?;
    Ok(out)
}

/// A call as Pyro4's MarshalSerializer.dumpsCall sends it: `(object, method, vargs, kwargs)`.
pub fn encode_call(
    object: &str,
    method: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<Vec<u8>> {
    encode(&super::call_tuple(object, method, args, kwargs))
}

fn len32(out: &mut Vec<u8>, n: usize) -> Result<()> {
    let n =
        i32::try_from(n).map_err(|_| Error::serialization("container too large for marshal"))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn write_long(b: &BigInt, out: &mut Vec<u8>) {
    // 15-bit digits, least significant first; the digit count carries the sign.
    let (sign, mut mag) = (b.sign(), b.magnitude().clone());
    let mut digits = Vec::new();
    while !mag.is_zero() {
        digits.push(
            (&mag & num_bigint::BigUint::from(0x7fffu32))
                .to_u16()
                .unwrap(),
        );
        mag >>= 15;
    }
    out.push(b'l');
    let n = digits.len() as i32;
    out.extend_from_slice(&(if sign == Sign::Minus { -n } else { n }).to_le_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_le_bytes());
    }
}

fn write(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::serialization("value nested too deeply to serialize"));
    }
    match v {
        Value::None => out.push(b'N'),
        Value::Bool(true) => out.push(b'T'),
        Value::Bool(false) => out.push(b'F'),
        Value::Int(i) => match i32::try_from(*i) {
            Ok(small) => {
                out.push(b'i');
                out.extend_from_slice(&small.to_le_bytes());
            }
            Err(_) => write_long(&BigInt::from(*i), out),
        },
        Value::BigInt(b) => write_long(b, out),
        Value::Float(f) => {
            out.push(b'g');
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Complex { re, im } => {
            out.push(b'y');
            out.extend_from_slice(&re.to_le_bytes());
            out.extend_from_slice(&im.to_le_bytes());
        }
        Value::Str(s) => {
            out.push(b'u');
            len32(out, s.len())?;
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(b's');
            len32(out, b.len())?;
            out.extend_from_slice(b);
        }
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
            out.push(match v {
                Value::Tuple(_) => b'(',
                Value::List(_) => b'[',
                _ => b'<',
            });
            len32(out, items.len())?;
            for i in items {
                write(i, out, depth + 1)?;
            }
        }
        Value::Dict(items) => {
            out.push(b'{');
            for (k, val) in items {
                write(k, out, depth + 1)?;
                write(val, out, depth + 1)?;
            }
            out.push(b'0');
        }
        Value::Object(o) => {
            // Pyro4's class_to_dict form.
            out.push(b'{');
            write(&Value::str("__class__"), out, depth + 1)?;
            write(&Value::str(o.class.as_str()), out, depth + 1)?;
            match &o.state {
                Value::Dict(items) => {
                    for (k, val) in items {
                        write(k, out, depth + 1)?;
                        write(val, out, depth + 1)?;
                    }
                }
                other => {
                    write(&Value::str("state"), out, depth + 1)?;
                    write(other, out, depth + 1)?;
                }
            }
            out.push(b'0');
        }
    }
    Ok(())
}

/// Decode a marshal payload; class dicts become objects.
pub fn decode(data: &[u8]) -> Result<Value> {
    let mut r = Reader {
        b: data,
        pos: 0,
        refs: Vec::new(),
    };
    let v = r.value(0)?;
    if r.pos != data.len() {
        return r.err("trailing data after the value");
    }
    Ok(v)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    /// FLAG_REF'd values; None while a container is still being read.
    refs: Vec<Option<Value>>,
}

impl Reader<'_> {
    fn err<T>(&self, what: &str) -> Result<T> {
        Err(Error::serialization(format!(
            "invalid marshal data: {what} at offset {}",
            self.pos
        )))
    }

    fn take(&mut self, n: usize) -> Result<&[u8]> {
        if self.b.len() - self.pos < n {
            return self.err(&format!("truncated (needs {n} more bytes)"));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }

    /// A length prefix, refused if the rest of the input cannot possibly hold it.
    fn len(&mut self, per_item: usize) -> Result<usize> {
        let n = self.i32()?;
        if n < 0 {
            return self.err("negative length");
        }
        let n = n as usize;
        if n.saturating_mul(per_item) > self.b.len() - self.pos {
            return self.err(&format!("length {n} exceeds the remaining data"));
        }
        Ok(n)
    }

    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }

    fn text(&mut self, n: usize) -> Result<String> {
        let bytes = self.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => self.err("invalid UTF-8 in str"),
        }
    }

    fn old_float(&mut self) -> Result<f64> {
        let n = self.u8()? as usize;
        let t = self.text(n)?;
        match t.parse() {
            Ok(f) => Ok(f),
            Err(_) => self.err("invalid float text"),
        }
    }

    #[inline(never)]
    fn long(&mut self) -> Result<Value> {
        let n = self.i32()?;
        let count = n.unsigned_abs() as usize;
        if count.saturating_mul(2) > self.b.len() - self.pos {
            return self.err("long digit count exceeds the remaining data");
        }
        if count > 20_000 {
            return self.err("integer too large");
        }
        let mut mag = BigInt::zero();
        let digits = self.take(count * 2)?.to_vec();
        for d in digits.chunks(2).rev() {
            let d = u16::from_le_bytes([d[0], d[1]]);
            if d > 0x7fff {
                return self.err("invalid long digit");
            }
            mag = (mag << 15) + BigInt::from(d);
        }
        Ok(Value::from_bigint(if n < 0 { -mag } else { mag }))
    }

    // Kept out of `value` so the recursive frame stays small (deep nesting, small stacks).
    #[inline(never)]
    fn container(&mut self, code: u8, depth: usize) -> Result<Value> {
        if code == b'{' {
            let mut dict = Value::Dict(Vec::new());
            loop {
                if self.b.get(self.pos) == Some(&b'0') {
                    self.pos += 1;
                    break;
                }
                let k = self.value(depth + 1)?;
                let v = self.value(depth + 1)?;
                dict.dict_set(k, v);
            }
            return Ok(super::class_dict(dict));
        }
        let n = if code == b')' {
            self.u8()? as usize
        } else {
            self.len(1)?
        };
        if n > self.b.len() - self.pos {
            return self.err("item count exceeds the remaining data");
        }
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(match code {
            b'(' | b')' => Value::Tuple(items),
            b'[' => Value::List(items),
            _ => {
                let mut set: Vec<Value> = Vec::with_capacity(items.len());
                for i in items {
                    if !set.contains(&i) {
                        set.push(i);
                    }
                }
                Value::Set(set)
            }
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return self.err(&format!("nesting deeper than {MAX_DEPTH}"));
        }
        let code = self.u8()?;
        let flag = code & FLAG_REF != 0;
        let code = code & !FLAG_REF;
        // Containers reserve their ref slot before their items, as CPython does.
        let slot = if flag {
            self.refs.push(None);
            Some(self.refs.len() - 1)
        } else {
            None
        };
        let v = match code {
            b'N' => Value::None,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'i' => Value::Int(self.i32()? as i64),
            b'l' => self.long()?,
            b'g' => Value::Float(self.f64()?),
            b'f' => Value::Float(self.old_float()?),
            b'y' => {
                let re = self.f64()?;
                let im = self.f64()?;
                Value::Complex { re, im }
            }
            b'x' => {
                let re = self.old_float()?;
                let im = self.old_float()?;
                Value::Complex { re, im }
            }
            b's' => {
                let n = self.len(1)?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            b'u' | b't' | b'a' | b'A' => {
                let n = self.len(1)?;
                Value::Str(self.text(n)?)
            }
            b'z' | b'Z' => {
                let n = self.u8()? as usize;
                Value::Str(self.text(n)?)
            }
            b'(' | b'[' | b'<' | b'>' | b')' | b'{' => self.container(code, depth)?,
            b'r' => {
                let i = self.i32()?;
                match usize::try_from(i).ok().and_then(|i| self.refs.get(i)) {
                    Some(Some(v)) => v.clone(),
                    Some(None) => return self.err("reference to a value still being read"),
                    None => return self.err(&format!("reference {i} out of range")),
                }
            }
            b'c' => return self.err("code objects are not data"),
            other => return self.err(&format!("unknown type code {:?}", other as char)),
        };
        if let Some(slot) = slot {
            self.refs[slot] = Some(v.clone());
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::serpent::parse_literal;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn python_bytes_decode() {
        // marshal.dumps({1: 2}), marshal.dumps(b'ab'), marshal.dumps((1+2j)), a set, refs
        assert!(decode(&unhex("fbe901000000e902000000")).is_err()); // no dict terminator
        assert_eq!(
            decode(&unhex("fbe901000000e90200000030")).unwrap().repr(),
            "{1: 2}"
        );
        assert_eq!(decode(&unhex("f3020000006162")).unwrap().repr(), "b'ab'");
        assert_eq!(
            decode(&unhex("f9000000000000f03f0000000000000040"))
                .unwrap()
                .repr(),
            "(1+2j)"
        );
        assert_eq!(
            decode(&unhex("bc02000000e901000000e902000000"))
                .unwrap()
                .repr(),
            "{1, 2}"
        );
    }

    #[test]
    fn round_trips() {
        for lit in ["(1, -2, 2147483648, -123456789012345678901234567890, 1.5, (1+2j), 'h\\u00e9', b'\\x00', None, True)", "{'a': [1, {2, 3}], (1,): {}}", "()"] {
            let v = parse_literal(lit).unwrap();
            assert_eq!(decode(&encode(&v).unwrap()).unwrap(), v, "{lit}");
        }
    }

    #[test]
    fn hostile_marshal() {
        // Decoding runs on the library's I/O thread, which has an 8 MiB stack.
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(hostile_marshal_body)
            .unwrap()
            .join()
            .unwrap();
    }

    fn hostile_marshal_body() {
        let mut deep = vec![b'['; 0];
        for _ in 0..100_000 {
            deep.extend_from_slice(&[b'[', 1, 0, 0, 0]);
        }
        assert!(decode(&deep).is_err());
        assert!(decode(&[b's', 0xff, 0xff, 0xff, 0x7f, 1, 2]).is_err()); // 2 GB length
        assert!(decode(&[b'r', 5, 0, 0, 0]).is_err());
        assert!(decode(&[b'(' | FLAG_REF, 1, 0, 0, 0, b'r', 0, 0, 0, 0]).is_err()); // self reference
        assert!(decode(&[b'l', 0xff, 0xff, 0xff, 0x7f]).is_err());
        assert!(decode(b"c").is_err());
        let good = encode(&parse_literal("{'k': [1, 2.5, 'x', b'y']}").unwrap()).unwrap();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
    }
}
