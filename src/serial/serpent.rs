//! Serpent, Pyro4's default serializer: Python literal text (what `ast.literal_eval`
//! reads) after a `# serpent utf-8 python3.2` header line.
//!
//! The parser doubles as the Python-literal reader behind `pyro_value_from_literal`.
//! It is recursive descent with an explicit depth limit ([`MAX_DEPTH`]), so hostile
//! nesting is an error, not a stack overflow.

use super::MAX_DEPTH;
use crate::error::{Error, Result};
use crate::value::keyed::{DictBuilder, SetBuilder};
use crate::value::{float_repr_into, push_int, str_repr, Value, ValueKind};
use base64::Engine;
use num_bigint::BigInt;

const HEADER: &str = "# serpent utf-8 python3.2\n";
/// CPython refuses int literals longer than this (sys.int_info.default_max_str_digits).
const MAX_INT_DIGITS: usize = 4300;
/// Hex, octal and binary literals may carry up to this many bits: what prints within
/// [`MAX_INT_DIGITS`] decimal digits.
const MAX_INT_BITS: usize = 14_000;
/// Longest float or imaginary literal accepted (Python has no such limit; no real reply
/// comes near it, and parsing stays cheap).
const MAX_FLOAT_LEN: usize = 10_000;

/// Serialize as serpent 1.4x does, header line included.
pub fn encode(v: &Value) -> Result<Vec<u8>> {
    let mut out = String::with_capacity(HEADER.len() + size_hint(v, 0));
    out.push_str(HEADER);
    write_value(v, &mut out, 0)?;
    Ok(out.into_bytes())
}

/// Pyro4's call tuple `(object, method, vargs, kwargs)`, byte for byte what
/// `encode(&call_tuple(..))` gives, without first copying the arguments into a Value.
pub fn encode_call(
    object: &str,
    method: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<Vec<u8>> {
    let hint = HEADER.len()
        + object.len()
        + method.len()
        + 16
        + args.iter().map(|a| size_hint(a, 1) + 1).sum::<usize>()
        + kwargs
            .iter()
            .map(|(k, v)| k.len() + size_hint(v, 1) + 4)
            .sum::<usize>();
    let mut out = String::with_capacity(hint);
    out.push_str(HEADER);
    out.push('(');
    str_repr(object, &mut out);
    out.push(',');
    str_repr(method, &mut out);
    out.push(',');
    write_tuple(args, &mut out, 1)?;
    out.push_str(",{");
    for (i, (k, v)) in kwargs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        str_repr(k, &mut out);
        out.push(':');
        write_value(v, &mut out, 2)?;
    }
    out.push_str("})");
    Ok(out.into_bytes())
}

/// A cheap guess at the encoded length, so the output is usually allocated once.
/// Containers deeper than two levels count a few bytes per item.
fn size_hint(v: &Value, depth: usize) -> usize {
    match v {
        // quotes, and some slack for escapes
        Value::Str(s) => s.len() + s.len() / 32 + 2,
        Value::Bytes(b) => b.len() / 3 * 4 + 40,
        Value::List(items) | Value::Tuple(items) | Value::Set(items) if depth < 2 => {
            2 + items
                .iter()
                .map(|i| size_hint(i, depth + 1) + 1)
                .sum::<usize>()
        }
        Value::Dict(items) if depth < 2 => {
            2 + items
                .iter()
                .map(|(k, v)| size_hint(k, depth + 1) + size_hint(v, depth + 1) + 2)
                .sum::<usize>()
        }
        Value::List(items) | Value::Tuple(items) | Value::Set(items) => 2 + items.len() * 8,
        Value::Dict(items) => 2 + items.len() * 16,
        Value::Object(_) => 64,
        _ => 8,
    }
}

/// Parse a serpent payload (the header line is optional).
pub fn decode(data: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(data)
        .map_err(|e| Error::serialization(format!("serpent data is not valid UTF-8: {e}")))?;
    if text.contains('\0') {
        return Err(Error::serialization("serpent data contains NUL bytes"));
    }
    let body = match text.strip_prefix('#') {
        Some(rest) => rest.split_once('\n').map(|(_, b)| b).unwrap_or(""),
        None => text,
    };
    Parser::new(body).parse_document()
}

/// Parse Python literal syntax, as `ast.literal_eval` would.
pub fn parse_literal(text: &str) -> Result<Value> {
    Parser::new(text).parse_document()
}

// ---------------------------------------------------------------- encoding

fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("{'__class__':'float','value':'nan'}");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "1e30000" } else { "-1e30000" });
    } else {
        float_repr_into(f, out);
    }
}

fn write_value(v: &Value, out: &mut String, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::serialization("value nested too deeply to serialize"));
    }
    match v {
        // the commonest scalars directly, not through Value::repr_into's dispatch
        Value::Str(s) => str_repr(s, out),
        Value::Int(i) => push_int(*i, out),
        Value::Float(f) => write_float(*f, out),
        Value::Complex { re, im } => {
            if re.is_nan() || im.is_nan() {
                out.push_str("{'__class__':'complex','real':");
                write_float(*re, out);
                out.push_str(",'imag':");
                write_float(*im, out);
                out.push('}');
            } else {
                out.push('(');
                write_float(*re, out);
                if *im >= 0.0 && im.is_sign_positive() {
                    out.push('+');
                }
                write_float(*im, out);
                out.push_str("j)");
            }
        }
        Value::Bytes(b) => {
            out.push_str("{'data': '");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push_str("', 'encoding': 'base64'}");
        }
        Value::Tuple(items) => write_tuple(items, out, depth)?,
        Value::List(items) => write_seq(out, '[', ']', items, depth)?,
        // serpent writes an empty set as an empty tuple: Python has no empty-set literal.
        Value::Set(items) if items.is_empty() => out.push_str("()"),
        Value::Set(items) => write_seq(out, '{', '}', items, depth)?,
        Value::Dict(items) => {
            out.push('{');
            for (i, (k, val)) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                check_key(k)?;
                write_value(k, out, depth + 1)?;
                out.push(':');
                write_value(val, out, depth + 1)?;
            }
            out.push('}');
        }
        Value::Object(obj) => {
            out.push_str("{'__class__':");
            str_repr(&obj.class, out);
            match &obj.state {
                Value::Dict(items) => {
                    for (k, val) in items {
                        out.push(',');
                        write_value(k, out, depth + 1)?;
                        out.push(':');
                        write_value(val, out, depth + 1)?;
                    }
                }
                other => {
                    out.push_str(",'state':");
                    write_value(other, out, depth + 1)?;
                }
            }
            out.push('}');
        }
        // None, bools, ints and str: serpent writes Python's repr().
        other => other.repr_into(out),
    }
    Ok(())
}

fn write_tuple(items: &[Value], out: &mut String, depth: usize) -> Result<()> {
    out.push('(');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(item, out, depth + 1)?;
    }
    if items.len() == 1 {
        out.push(',');
    }
    out.push(')');
    Ok(())
}

fn write_seq(
    out: &mut String,
    open: char,
    close: char,
    items: &[Value],
    depth: usize,
) -> Result<()> {
    out.push(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(item, out, depth + 1)?;
    }
    out.push(close);
    Ok(())
}

/// The kind of the first part of `v` Python could not hash (a tuple hashes if its items do).
fn unhashable_part(v: &Value) -> Option<ValueKind> {
    match v {
        Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::Object(_) => Some(v.kind()),
        Value::Tuple(items) => items.iter().find_map(unhashable_part),
        _ => None,
    }
}

fn check_key(k: &Value) -> Result<()> {
    match k {
        Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::Object(_) => Err(
            Error::serialization(format!("unhashable dict key of kind {:?}", k.kind())),
        ),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------- parsing

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
}

fn class_dict_to_value(items: Vec<(Value, Value)>) -> Value {
    let class = items.iter().find_map(|(k, v)| match (k, v) {
        (Value::Str(k), Value::Str(c)) if k == "__class__" => Some(c.clone()),
        _ => None,
    });
    let Some(class) = class else {
        return Value::Dict(items);
    };
    let dict = Value::Dict(items);
    match class.as_str() {
        "float" => {
            if let Some(Value::Str(s)) = dict.dict_get_str("value") {
                if let Ok(f) = s.parse::<f64>() {
                    return Value::Float(f);
                }
            }
        }
        "complex" => {
            let part = |k| match dict.dict_get_str(k) {
                Some(Value::Float(f)) => Some(*f),
                Some(Value::Int(i)) => Some(*i as f64),
                _ => None,
            };
            if let (Some(re), Some(im)) = (part("real"), part("imag")) {
                return Value::Complex { re, im };
            }
        }
        _ => {}
    }
    super::class_dict(dict)
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            pos: 0,
        }
    }

    fn err<T>(&self, what: impl std::fmt::Display) -> Result<T> {
        Err(Error::serialization(format!(
            "{what} at offset {}",
            self.pos
        )))
    }

    fn skip_ws(&mut self) {
        while self.pos < self.b.len() {
            match self.b[self.pos] {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => self.pos += 1,
                b'\\' if self.b.get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
                b'#' => {
                    while self.pos < self.b.len() && self.b[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn parse_document(mut self) -> Result<Value> {
        let v = self.value(0)?;
        if self.peek().is_some() {
            return self.err("unexpected trailing data");
        }
        Ok(v)
    }

    /// value := number [('+'|'-') imaginary] | atom
    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return self.err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        let Some(c) = self.peek() else {
            return self.err("unexpected end of data");
        };
        match c {
            b'(' => self.paren(depth),
            b'[' => {
                self.pos += 1;
                let items = self.items(b']', depth)?;
                Ok(Value::List(items))
            }
            b'{' => self.brace(depth),
            b'\'' | b'"' => self.strings(),
            b'-' | b'+' | b'0'..=b'9' | b'.' => self.number_expr(),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let start = self.pos;
                while self.pos < self.b.len()
                    && (self.b[self.pos].is_ascii_alphanumeric() || self.b[self.pos] == b'_')
                {
                    self.pos += 1;
                }
                let word = &self.src[start..self.pos];
                match word {
                    "None" => Ok(Value::None),
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "set" if self.eat(b'(') => {
                        if self.eat(b')') {
                            Ok(Value::Set(Vec::new()))
                        } else {
                            self.err("set() with arguments is not a literal")
                        }
                    }
                    _ if self.peek() == Some(b'\'') || self.peek() == Some(b'"') => {
                        self.pos = start;
                        self.strings()
                    }
                    _ => {
                        self.pos = start;
                        self.err(format!("unexpected name {word:?}"))
                    }
                }
            }
            _ => self.err(format!(
                "unexpected character {:?}",
                self.src[self.pos..].chars().next().unwrap_or('?')
            )),
        }
    }

    /// Comma-separated values up to `close`; a trailing comma is allowed.
    fn items(&mut self, close: u8, depth: usize) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        self.items_into(&mut items, close, depth)?;
        Ok(items)
    }

    /// [`Parser::items`] appended to `items` (which may hold a first item already).
    fn items_into(&mut self, items: &mut Vec<Value>, close: u8, depth: usize) -> Result<()> {
        loop {
            if self.eat(close) {
                return Ok(());
            }
            items.push(self.value(depth + 1)?);
            if self.eat(b',') {
                continue;
            }
            if self.eat(close) {
                return Ok(());
            }
            return self.err(format!("expected ',' or '{}'", close as char));
        }
    }

    fn paren(&mut self, depth: usize) -> Result<Value> {
        self.pos += 1;
        if self.eat(b')') {
            return Ok(Value::Tuple(Vec::new()));
        }
        let first = self.value(depth + 1)?;
        if self.eat(b')') {
            return Ok(first); // parenthesised expression, e.g. a complex "(1+2j)"
        }
        if !self.eat(b',') {
            return self.err("expected ',' or ')'");
        }
        // One vector for the whole tuple (not a second one for the rest, then a copy).
        let mut items = Vec::with_capacity(4);
        items.push(first);
        self.items_into(&mut items, b')', depth)?;
        Ok(Value::Tuple(items))
    }

    fn brace(&mut self, depth: usize) -> Result<Value> {
        self.pos += 1;
        if self.eat(b'}') {
            return Ok(Value::Dict(Vec::new()));
        }
        let first = self.value(depth + 1)?;
        if self.eat(b':') {
            let v = self.value(depth + 1)?;
            self.hashable(&first, "dict key")?;
            let mut dict = DictBuilder::new();
            dict.insert(first, v);
            loop {
                if self.eat(b'}') {
                    break;
                }
                if !self.eat(b',') {
                    return self.err("expected ',' or '}' in dict");
                }
                if self.eat(b'}') {
                    break;
                }
                let k = self.value(depth + 1)?;
                if !self.eat(b':') {
                    return self.err("expected ':' in dict");
                }
                let v = self.value(depth + 1)?;
                self.hashable(&k, "dict key")?;
                dict.insert(k, v);
            }
            return Ok(class_dict_to_value(dict.finish()));
        }
        // a set literal
        self.hashable(&first, "set element")?;
        let mut set = SetBuilder::new();
        set.insert(first);
        loop {
            if self.eat(b'}') {
                break;
            }
            if !self.eat(b',') {
                return self.err("expected ',' or '}' in set");
            }
            if self.eat(b'}') {
                break;
            }
            let v = self.value(depth + 1)?;
            self.hashable(&v, "set element")?;
            set.insert(v);
        }
        Ok(Value::Set(set.finish()))
    }

    /// Refuse what Python could not hash (`ast.literal_eval` raises TypeError for it): the
    /// builders' hashes and equality assume hashable keys, and unhashable ones (lists,
    /// dicts) would all land in one bucket.
    fn hashable(&self, v: &Value, what: &str) -> Result<()> {
        match unhashable_part(v) {
            None => Ok(()),
            Some(k) => self.err(format!("unhashable {what} of kind {k:?}")),
        }
    }

    /// A number, possibly signed, possibly `real ± imag j`.
    fn number_expr(&mut self) -> Result<Value> {
        let first = self.signed_number()?;
        let save = self.pos;
        if let Some(op @ (b'+' | b'-')) = self.peek() {
            let is_real = matches!(first, Value::Int(_) | Value::BigInt(_) | Value::Float(_));
            self.pos += 1;
            self.skip_ws();
            if is_real && matches!(self.b.get(self.pos), Some(b'0'..=b'9' | b'.')) {
                let second = self.unsigned_number()?;
                if let Value::Complex { re: 0.0, im } = second {
                    // Python evaluates `a ± bj` component-wise as (a ± 0.0, 0.0 ± b), which
                    // decides the signs of zeros.
                    let a = to_f64(&first);
                    let (re, im) = if op == b'-' {
                        (a - 0.0, 0.0 - im)
                    } else {
                        (a + 0.0, 0.0 + im)
                    };
                    return Ok(Value::Complex { re, im });
                }
                return self.err("only 'real + imaginary' arithmetic is allowed in literals");
            }
            self.pos = save;
        }
        Ok(first)
    }

    fn signed_number(&mut self) -> Result<Value> {
        let mut neg = false;
        loop {
            match self.peek() {
                Some(b'-') => {
                    neg = !neg;
                    self.pos += 1;
                }
                Some(b'+') => self.pos += 1,
                _ => break,
            }
        }
        self.skip_ws();
        let v = self.unsigned_number()?;
        Ok(if neg { negate(v) } else { v })
    }

    fn unsigned_number(&mut self) -> Result<Value> {
        let start = self.pos;
        let b = self.b;
        if b.get(self.pos) == Some(&b'0')
            && matches!(
                b.get(self.pos + 1),
                Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B')
            )
        {
            let radix = match b[self.pos + 1] | 0x20 {
                b'x' => 16,
                b'o' => 8,
                _ => 2,
            };
            self.pos += 2;
            let ds = self.pos;
            while self.pos < b.len() && (b[self.pos].is_ascii_alphanumeric() || b[self.pos] == b'_')
            {
                self.pos += 1;
            }
            let text = &b[ds..self.pos];
            if text
                .iter()
                .any(|&c| c != b'_' && !(c as char).is_digit(radix))
            {
                return self.err("invalid integer literal");
            }
            // Keep every int printable within CPython's 4300-digit limit (14,000 bits is
            // about 4,214 decimal digits), so it survives a round trip. Counted before
            // anything is copied or parsed: more significant digits than 14,000 bits can
            // hold is too large whatever they are.
            let significant = text
                .iter()
                .filter(|&&c| c != b'_')
                .skip_while(|&&c| c == b'0')
                .count();
            let bits_per_digit = radix.trailing_zeros() as usize;
            if significant > MAX_INT_BITS.div_ceil(bits_per_digit) {
                return self.err("integer literal too large");
            }
            let digits: Vec<u8> = text.iter().copied().filter(|&c| c != b'_').collect();
            if digits.is_empty() {
                return self.err("invalid integer literal");
            }
            return match BigInt::parse_bytes(&digits, radix) {
                Some(n) if n.bits() > MAX_INT_BITS as u64 => self.err("integer literal too large"),
                Some(n) => Ok(Value::from_bigint(n)),
                None => self.err("invalid integer literal"),
            };
        }
        // Fast path for the usual plain decimal int: up to 18 digits, no leading zero and
        // nothing after that would make it a float, imaginary or `_`-separated (or longer).
        // The general code below gives the same value for these; it just does more to get
        // there. 18 digits always fit an i64.
        let mut end = start;
        let mut n = 0i64;
        while end - start < 18 {
            match b.get(end) {
                Some(&d @ b'0'..=b'9') => n = n * 10 + i64::from(d - b'0'),
                _ => break,
            }
            end += 1;
        }
        let digits = end - start;
        if digits > 0
            && (digits == 1 || b[start] != b'0')
            && !matches!(
                b.get(end),
                Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'j' | b'J' | b'_')
            )
        {
            self.pos = end;
            return Ok(Value::Int(n));
        }
        let mut is_float = false;
        let mut underscores = 0;
        while self.pos < b.len() {
            match b[self.pos] {
                b'0'..=b'9' => self.pos += 1,
                b'_' => {
                    underscores += 1;
                    self.pos += 1
                }
                b'.' => {
                    is_float = true;
                    self.pos += 1
                }
                b'e' | b'E' => {
                    is_float = true;
                    self.pos += 1;
                    if matches!(b.get(self.pos), Some(b'+' | b'-')) {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
        let raw = &self.src[start..self.pos];
        let imaginary = matches!(b.get(self.pos), Some(b'j' | b'J'));
        if imaginary {
            self.pos += 1;
        }
        // Lengths are checked before the text is copied (to drop `_`) or parsed.
        let len = raw.len() - underscores;
        if is_float || imaginary {
            if len > MAX_FLOAT_LEN {
                return self.err("number literal too long");
            }
        } else if len > MAX_INT_DIGITS {
            return self.err(format!(
                "integer literal longer than {MAX_INT_DIGITS} digits"
            ));
        }
        let text = if underscores > 0 {
            without_underscores(raw)
        } else {
            std::borrow::Cow::Borrowed(raw)
        };
        let text = text.as_ref();
        if text.is_empty() || text == "." {
            return self.err("invalid number");
        }
        if is_float || imaginary {
            let f: f64 = match text.parse() {
                Ok(f) => f,
                Err(_) => return self.err(format!("invalid number {text:?}")),
            };
            return Ok(if imaginary {
                Value::Complex { re: 0.0, im: f }
            } else {
                Value::Float(f)
            });
        }
        if text.len() > 1 && text.starts_with('0') && text.bytes().any(|c| c != b'0') {
            return self.err("leading zeros in an integer literal are not allowed");
        }
        if text.len() <= 18 {
            // only ASCII digits get here, and 18 of them always fit an i64
            let n = text.bytes().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            return Ok(Value::Int(n));
        }
        match BigInt::parse_bytes(text.as_bytes(), 10) {
            Some(n) => Ok(Value::from_bigint(n)),
            None => self.err("invalid integer literal"),
        }
    }

    /// One or more adjacent string literals (Python concatenates them).
    fn strings(&mut self) -> Result<Value> {
        if let Some(s) = self.plain_string() {
            return Ok(Value::Str(s));
        }
        let mut acc: Option<Value> = None;
        loop {
            self.skip_ws();
            let start = self.pos;
            let mut is_bytes = false;
            let mut raw = false;
            while let Some(c) = self.b.get(self.pos) {
                match c | 0x20 {
                    b'b' => is_bytes = true,
                    b'r' => raw = true,
                    b'u' | b'f' if !is_bytes => {}
                    _ => break,
                }
                self.pos += 1;
            }
            if !matches!(self.b.get(self.pos), Some(b'\'' | b'"')) {
                self.pos = start;
                break;
            }
            if self.pos - start > 2 {
                return self.err("invalid string prefix");
            }
            let lit = self.string_literal(is_bytes, raw)?;
            acc = Some(match (acc, lit) {
                (None, l) => l,
                (Some(Value::Str(mut a)), Value::Str(b)) => {
                    a.push_str(&b);
                    Value::Str(a)
                }
                (Some(Value::Bytes(mut a)), Value::Bytes(b)) => {
                    a.extend(b);
                    Value::Bytes(a)
                }
                _ => return self.err("cannot mix bytes and str literals"),
            });
        }
        match acc {
            Some(v) => Ok(v),
            None => self.err("expected a string literal"),
        }
    }

    /// The commonest literal, a quoted str without escapes, line breaks or another literal
    /// after it, copied in one piece; None (nothing consumed) for anything else, which
    /// [`Parser::strings`] reads in full.
    fn plain_string(&mut self) -> Option<String> {
        let q = *self.b.get(self.pos)?;
        if q != b'\'' && q != b'"' {
            return None;
        }
        let body = self.pos + 1;
        let end = body + crate::value::scan::find_any3(&self.b[body..], q, b'\\', b'\n');
        if self.b.get(end) != Some(&q) || (end == body && self.b.get(end + 1) == Some(&q)) {
            return None; // an escape, a line break, no end, or a triple quote
        }
        let mut after = end + 1;
        while let Some(b' ' | b'\t' | b'\r' | b'\n' | b'\x0c') = self.b.get(after) {
            after += 1;
        }
        if let Some(c) = self.b.get(after) {
            if matches!(c, b'\'' | b'"' | b'#' | b'\\') || c.is_ascii_alphabetic() {
                return None; // maybe another literal to join
            }
        }
        self.pos = end + 1;
        Some(self.src[body..end].to_owned())
    }

    fn string_literal(&mut self, is_bytes: bool, raw: bool) -> Result<Value> {
        let q = self.b[self.pos];
        let triple = self.b.get(self.pos + 1) == Some(&q) && self.b.get(self.pos + 2) == Some(&q);
        self.pos += if triple { 3 } else { 1 };
        let mut s = String::new();
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            // Copy the run up to the next quote, backslash or newline in one go: only
            // those three need a decision, everything else is taken as written.
            let run = crate::value::scan::find_any3(&self.b[self.pos..], q, b'\\', b'\n');
            if run > 0 {
                // Ends before an ASCII byte or at the end of input: a char boundary.
                let text = &self.src[self.pos..self.pos + run];
                if is_bytes {
                    if let Some(bad) = text.bytes().position(|c| !c.is_ascii()) {
                        // report the offset just past the character, as per char would
                        let c = text[bad..].chars().next().expect("non-ASCII char");
                        self.pos += bad + c.len_utf8();
                        return self.err("bytes literals may only contain ASCII characters");
                    }
                    bytes.extend_from_slice(text.as_bytes());
                } else {
                    s.push_str(text);
                }
                self.pos += run;
            }
            let Some(ch) = self.src[self.pos..].chars().next() else {
                return self.err("unterminated string literal");
            };
            if ch as u32 == q as u32 {
                if !triple {
                    self.pos += 1;
                    break;
                }
                if self.b.get(self.pos + 1) == Some(&q) && self.b.get(self.pos + 2) == Some(&q) {
                    self.pos += 3;
                    break;
                }
            }
            if ch == '\n' && !triple {
                return self.err("newline in a single-quoted string literal");
            }
            self.pos += ch.len_utf8();
            if ch != '\\' || raw {
                if raw && ch == '\\' {
                    // a raw string still may not end in an odd backslash before the quote
                    if let Some(next) = self.src[self.pos..].chars().next() {
                        push_char(&mut s, &mut bytes, is_bytes, '\\', self)?;
                        self.pos += next.len_utf8();
                        push_char(&mut s, &mut bytes, is_bytes, next, self)?;
                        continue;
                    }
                }
                push_char(&mut s, &mut bytes, is_bytes, ch, self)?;
                continue;
            }
            let Some(e) = self.src[self.pos..].chars().next() else {
                return self.err("unterminated escape sequence");
            };
            self.pos += e.len_utf8();
            match e {
                '\n' => {}
                '\\' | '\'' | '"' => push_char(&mut s, &mut bytes, is_bytes, e, self)?,
                'a' => push_char(&mut s, &mut bytes, is_bytes, '\x07', self)?,
                'b' => push_char(&mut s, &mut bytes, is_bytes, '\x08', self)?,
                'f' => push_char(&mut s, &mut bytes, is_bytes, '\x0c', self)?,
                'n' => push_char(&mut s, &mut bytes, is_bytes, '\n', self)?,
                'r' => push_char(&mut s, &mut bytes, is_bytes, '\r', self)?,
                't' => push_char(&mut s, &mut bytes, is_bytes, '\t', self)?,
                'v' => push_char(&mut s, &mut bytes, is_bytes, '\x0b', self)?,
                '0'..='7' => {
                    let mut n = e as u32 - '0' as u32;
                    for _ in 0..2 {
                        match self.b.get(self.pos) {
                            Some(d @ b'0'..=b'7') => {
                                n = n * 8 + (d - b'0') as u32;
                                self.pos += 1;
                            }
                            _ => break,
                        }
                    }
                    if is_bytes {
                        bytes.push((n & 0xff) as u8);
                    } else {
                        s.push(char::from_u32(n).expect("octal escape below 0x200"));
                    }
                }
                'x' => {
                    let n = self.hex_digits(2)?;
                    if is_bytes {
                        bytes.push(n as u8);
                    } else {
                        s.push(char::from_u32(n).expect("below 0x100"));
                    }
                }
                'u' | 'U' if !is_bytes => {
                    let n = self.hex_digits(if e == 'u' { 4 } else { 8 })?;
                    match char::from_u32(n) {
                        Some(c) => s.push(c),
                        None => {
                            return self.err(format!(
                                "escape \\{e}{n:x} is not a valid Unicode scalar value"
                            ))
                        }
                    }
                }
                'N' if !is_bytes => return self.err("\\N{...} escapes are not supported"),
                other => {
                    // Python keeps unknown escapes as written.
                    push_char(&mut s, &mut bytes, is_bytes, '\\', self)?;
                    push_char(&mut s, &mut bytes, is_bytes, other, self)?;
                }
            }
        }
        Ok(if is_bytes {
            Value::Bytes(bytes)
        } else {
            Value::Str(s)
        })
    }

    fn hex_digits(&mut self, n: usize) -> Result<u32> {
        let Some(h) = self.src.get(self.pos..self.pos + n) else {
            return self.err("truncated hex escape");
        };
        match u32::from_str_radix(h, 16) {
            Ok(v) if h.bytes().all(|c| c.is_ascii_hexdigit()) => {
                self.pos += n;
                Ok(v)
            }
            _ => self.err("invalid hex escape"),
        }
    }
}

fn push_char(
    s: &mut String,
    bytes: &mut Vec<u8>,
    is_bytes: bool,
    c: char,
    p: &Parser,
) -> Result<()> {
    if is_bytes {
        if !c.is_ascii() {
            return p.err("bytes literals may only contain ASCII characters");
        }
        bytes.push(c as u8);
    } else {
        s.push(c);
    }
    Ok(())
}

/// Digits with Python's `_` separators removed.
fn without_underscores(digits: &str) -> std::borrow::Cow<'_, str> {
    digits
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .into()
}

fn negate(v: Value) -> Value {
    match v {
        Value::Int(i) => match i.checked_neg() {
            Some(n) => Value::Int(n),
            None => Value::from_bigint(-BigInt::from(i)),
        },
        Value::BigInt(b) => Value::from_bigint(-b),
        Value::Float(f) => Value::Float(-f),
        Value::Complex { re, im } => Value::Complex { re: -re, im: -im },
        other => other,
    }
}

fn to_f64(v: &Value) -> f64 {
    use num_traits::ToPrimitive;
    match v {
        Value::Int(i) => *i as f64,
        Value::BigInt(b) => b.to_f64().unwrap_or(f64::INFINITY),
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Value {
        parse_literal(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn literals_repr_back() {
        for (src, want) in [
            ("(1, 'a', {'k': 2})", "(1, 'a', {'k': 2})"),
            ("(1,)", "(1,)"),
            ("()", "()"),
            ("[1, 2,]", "[1, 2]"),
            ("{5}", "{5}"),
            ("set()", "set()"),
            ("-3j", "(-0-3j)"),
            ("(1.0+2.0j)", "(1+2j)"),
            ("1e30000", "inf"),
            ("-1e30000", "-inf"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("-9223372036854775808", "-9223372036854775808"),
            ("'a' 'b'", "'ab'"),
            ("b'\\x00\\xff'", "b'\\x00\\xff'"),
            ("'\\u00e9\\U0001F600\\x41\\101'", "'é😀AA'"),
            ("{'__class__':'float','value':'nan'}", "nan"),
            ("0x10", "16"),
            ("True", "True"),
        ] {
            assert_eq!(lit(src).repr(), want, "{src}");
        }
    }

    #[test]
    fn serpent_round_trip_and_shapes() {
        let v = lit("('obj', 'm', (1, 'a', b'\\x00\\x01', 1.5, None), {'k': {1, 2}, 'e': set()})");
        let enc = String::from_utf8(encode(&v).unwrap()).unwrap();
        assert!(enc.starts_with("# serpent utf-8 python3.2\n"));
        assert!(
            enc.contains("{'data': 'AAE=', 'encoding': 'base64'}"),
            "{enc}"
        );
        // bytes come back as the base64 dict, as they do through a stock Pyro4 server
        let back = decode(enc.as_bytes()).unwrap();
        assert_eq!(back.repr(), "('obj', 'm', (1, 'a', {'data': 'AAE=', 'encoding': 'base64'}, 1.5, None), {'k': {1, 2}, 'e': ()})");
    }

    #[test]
    fn string_literal_forms() {
        for (src, want) in [
            (r#"'''a'b''c'''"#, "a'b''c"),
            (r#"r'a\'b'"#, r#"a\'b"#),
            ("\"\"\"x\ny\"\"\"", "x\ny"),
            ("'a\\\nb'", "ab"),
            (r#"'x\q\x41\u00e9é'"#, r#"x\qAéé"#),
            ("'1_000'", "1_000"),
        ] {
            assert_eq!(lit(src), Value::str(want), "{src}");
        }
        assert_eq!(lit(r#"b'a\x00'"#), Value::Bytes(vec![b'a', 0]));
        assert_eq!(lit("1_000_000"), Value::Int(1_000_000));
        assert_eq!(lit("1_0.2_5"), Value::Float(10.25));
        for (bad, msg) in [
            (
                "b'é'",
                "bytes literals may only contain ASCII characters at offset 4",
            ),
            (
                "b'abécd'",
                "bytes literals may only contain ASCII characters at offset 6",
            ),
            ("'abc", "unterminated string literal at offset 4"),
            (
                "'ab\ncd'",
                "newline in a single-quoted string literal at offset 3",
            ),
        ] {
            assert_eq!(parse_literal(bad).unwrap_err().message, msg, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn str_and_bytes_round_trip(
            s in "[ -~\\t\\n\\r\\x00\\x7f\\u{80}-\\u{3000}\\u{1f600}]{0,40}",
            b in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            let v = Value::str(s.as_str());
            proptest::prop_assert_eq!(decode(&encode(&v).unwrap()).unwrap(), v.clone());
            proptest::prop_assert_eq!(parse_literal(&v.repr()).unwrap(), v);
            let v = Value::Bytes(b);
            proptest::prop_assert_eq!(parse_literal(&v.repr()).unwrap(), v);
        }
    }

    #[test]
    fn encode_call_is_encode_of_the_call_tuple() {
        let nested = lit("(1, [2.5, 'it\\'s', b'x'], {'k': {1, 2}, 'e': set()}, None, -3j)");
        let obj = Value::Object(Box::new(crate::value::Object {
            class: "my.Class".into(),
            state: Value::Dict(vec![(Value::str("a"), Value::Int(1))]),
        }));
        let kw = |pairs: &[(&str, Value)]| -> Vec<(String, Value)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        for (args, kwargs) in [
            (vec![], vec![]),
            (vec![Value::str("x".repeat(64))], vec![]),
            (
                vec![nested.clone(), obj.clone()],
                kw(&[("a", Value::Int(1))]),
            ),
            (
                vec![],
                kw(&[("it's", nested), ("b", obj), ("c", Value::None)]),
            ),
        ] {
            for (o, m) in [("PYRO:obj@localhost:1", "echo"), ("o'b\"j", "m\u{e9}")] {
                let want = encode(&super::super::call_tuple(o, m, &args, &kwargs)).unwrap();
                assert_eq!(encode_call(o, m, &args, &kwargs).unwrap(), want);
            }
        }
    }

    #[test]
    fn number_shapes() {
        for (src, want) in [
            ("0", "0"),
            ("7", "7"),
            ("00", "0"),
            ("-0", "0"),
            ("123456789012345678", "123456789012345678"),
            ("1234567890123456789", "1234567890123456789"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("12.5", "12.5"),
            ("12e2", "1200.0"),
            ("12E-2", "0.12"),
            ("12j", "12j"),
            ("1_2", "12"),
            ("-5+3j", "(-5+3j)"),
            ("[1,-2, 3 ]", "[1, -2, 3]"),
        ] {
            assert_eq!(lit(src).repr(), want, "{src}");
        }
        for bad in ["012", "0012", "1x"] {
            assert!(parse_literal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exceptions_become_objects() {
        let v = decode(b"# serpent utf-8 python3.2\n{'__class__':'builtins.ZeroDivisionError','__exception__':True,'args':('division by zero',),'attributes':{'_pyroTraceback':['Traceback\\n']}}").unwrap();
        let Value::Object(o) = &v else {
            panic!("{v:?}")
        };
        assert_eq!(o.class, "builtins.ZeroDivisionError");
        assert_eq!(
            o.state.dict_get_str("args").unwrap().repr(),
            "('division by zero',)"
        );
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        let deep_list = "[".repeat(100_000);
        let deep_tuple = "(".repeat(100_000) + &")".repeat(100_000);
        let big_digits = "9".repeat(1_000_000);
        for bad in [
            deep_list.as_str(),
            deep_tuple.as_str(),
            big_digits.as_str(),
            "1e999999999999999999999",
            "(1, 2",
            "{'a': }",
            "'unterminated",
            "b'\\u1234' + 'x'",
            "'\\ud800'",
            "[1 2]",
            "",
            "None None",
            "__import__('os')",
            &format!("0x{}", "F".repeat(4000)),
        ] {
            let r = std::panic::catch_unwind(|| parse_literal(bad));
            match r {
                Ok(Ok(v)) if bad.starts_with("1e") => assert_eq!(v.repr(), "inf"),
                Ok(Ok(v)) => panic!("{} parsed as {}", &bad[..bad.len().min(40)], v.repr()),
                Ok(Err(e)) => assert_eq!(e.kind, crate::ErrorKind::Serialization),
                Err(_) => panic!("panic on {}", &bad[..bad.len().min(40)]),
            }
        }
        assert!(decode(&[0xff, 0xfe]).is_err());
        assert!(decode(b"[1,\x002]").is_err());
    }

    /// `{i: i for i in range(200_000)}` and the set of the same ints (each twice) as a
    /// server sends them. Scanning the entries so far on every insert made these quadratic
    /// (minutes); the builders hash.
    #[test]
    fn dicts_and_sets_of_200k_ints() {
        use std::fmt::Write;
        let n = 200_000;
        let mut dict = String::from("# serpent utf-8 python3.2\n{");
        let mut set = String::from("# serpent utf-8 python3.2\n{");
        for i in 0..n {
            write!(dict, "{i}:{i},").unwrap();
            write!(set, "{i},").unwrap();
        }
        for i in 0..n {
            write!(set, "{i},").unwrap();
        }
        write!(dict, "{}:-1}}", n - 1).unwrap();
        set.push('}');
        let Value::Dict(items) = decode(dict.as_bytes()).unwrap() else {
            panic!("not a dict")
        };
        assert_eq!(items.len(), n);
        for (i, (k, v)) in items.iter().enumerate() {
            assert_eq!(*k, Value::Int(i as i64));
            let want = if i == n - 1 { -1 } else { i as i64 };
            assert_eq!(*v, Value::Int(want));
        }
        let Value::Set(items) = decode(set.as_bytes()).unwrap() else {
            panic!("not a set")
        };
        assert_eq!(items, (0..n as i64).map(Value::Int).collect::<Vec<_>>());
    }

    /// What Python cannot hash cannot be a key or set element (`literal_eval` raises
    /// TypeError); a tuple is hashable when its items are. The first key was not checked,
    /// nor were set elements or tuple items.
    #[test]
    fn unhashable_keys_and_set_elements_are_refused() {
        for bad in [
            "{[1]: 2}",
            "{1: 0, ([1],): 2}",
            "{(1, (2, {3: 4})): 0}",
            "{[1], [2]}",
            "{1, {2}}",
            "{(1, [2])}",
        ] {
            let e = parse_literal(bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Serialization, "{bad}");
            assert!(e.message.starts_with("unhashable"), "{bad}: {}", e.message);
        }
        assert_eq!(
            lit("{(1, (2, 'x')): 0, (1.0, (2, 'x')): 1}").repr(),
            "{(1, (2, 'x')): 1}"
        );
    }

    /// Int literals are measured before anything is copied or parsed: decimal by digits
    /// (CPython's 4300), hex, octal and binary by the bits their significant digits need
    /// (leading zeros are free, as in Python).
    #[test]
    fn int_literal_limits_in_every_base() {
        let huge = 2_000_000;
        for (prefix, digit) in [("", "7"), ("0x", "f"), ("0o", "7"), ("0b", "1")] {
            let text = format!("[{prefix}{}]", digit.repeat(huge));
            let e = parse_literal(&text).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::Serialization);
            assert!(
                e.message.contains("too large") || e.message.contains("longer than 4300"),
                "{prefix}: {}",
                e.message
            );
        }
        assert!(parse_literal(&"1_0".repeat(2200)).is_err());
        assert!(parse_literal(&"9".repeat(4300)).is_ok());
        assert!(parse_literal(&"9".repeat(4301)).is_err());
        for (prefix, bits_per_digit) in [("0x", 4), ("0o", 3), ("0b", 1)] {
            let zeros = "0".repeat(50_000);
            assert_eq!(lit(&format!("{prefix}{zeros}1")), Value::Int(1), "{prefix}");
            // 14,000 bits is the largest accepted: 1 followed by 13,999 zero bits
            let fits = |bits: usize| {
                let digits = bits.div_ceil(bits_per_digit);
                let top = 1u32 << ((bits - 1) % bits_per_digit);
                let text = format!("{prefix}{top}{}", "0".repeat(digits - 1));
                parse_literal(&text).map(|v| v.kind())
            };
            assert_eq!(
                fits(14_000).unwrap(),
                crate::value::ValueKind::BigInt,
                "{prefix}"
            );
            assert!(fits(14_001).is_err(), "{prefix}");
        }
        let long_float = format!("0.{}", "1".repeat(20_000));
        assert!(parse_literal(&long_float).is_err());
        assert!(parse_literal(&format!("0.{}", "1".repeat(9_000))).is_ok());
    }
}
