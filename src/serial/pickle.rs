//! Pickle (Pyro4 serializer id 4), read and written by a small pickle machine of our own.
//!
//! Why not serde-pickle alone: measured on real Pyro4 pickles it drops exception
//! classes, turns URIs/proxies into bare tuples and fails on datetime, Decimal and
//! Pyro4.errors.* (see shared/pyro4-notes.md). This decoder reads protocols 0–5 and
//! keeps class information, and it never imports or calls anything: GLOBAL and
//! STACK_GLOBAL push a class *name*, REDUCE / NEWOBJ / BUILD build values from a fixed
//! mapping table, and any other class becomes an inert object value.
//!
//! | pickled Python value | becomes |
//! |---|---|
//! | None, bool, int (any size), float, str, bytes, list, tuple, dict | the same kind |
//! | set, frozenset | SET |
//! | bytearray (and protocol-2 `_codecs.encode` bytes) | BYTES |
//! | complex | COMPLEX |
//! | collections.OrderedDict | DICT |
//! | datetime.datetime / date / time | STR in ISO format (as serpent sends them) |
//! | datetime.timedelta | FLOAT total seconds (as serpent) |
//! | decimal.Decimal, uuid.UUID | STR (as serpent) |
//! | array.array | LIST of its items |
//! | exceptions (`module.SomethingError`, or any object whose state has `_pyroTraceback`) | OBJECT of that class, state `{'__exception__': True, 'args': (...), 'attributes': {...}}` (the class-dict shape every serializer uses) |
//! | Pyro4.core.URI, Pyro4.core.Proxy | OBJECT of that class with its state tuple |
//! | any other class | OBJECT with the class name; state: its BUILD state (dict entries merged) and `args` if it was built with arguments |
//!
//! Writing uses protocol 3 (every Python 3 reads it): sets and complex numbers go as
//! `builtins.set` / `builtins.complex` reductions, objects as Pyro4 class dicts.

use super::MAX_DEPTH;
use crate::error::{Error, Result};
use crate::value::{Object, Value};
use num_bigint::{BigInt, Sign};
use std::collections::HashMap;

// ---------------------------------------------------------------- writing

/// Encode with pickle protocol 3.
pub fn encode(v: &Value) -> Result<Vec<u8>> {
    let mut out = vec![0x80, 3];
    write(v, &mut out, 0)?;
    out.push(b'.');
    Ok(out)
}

/// A call as Pyro4's PickleSerializer.dumpsCall sends it: `(object, method, vargs, kwargs)`.
pub fn encode_call(
    object: &str,
    method: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<Vec<u8>> {
    encode(&super::call_tuple(object, method, args, kwargs))
}

fn write_global(module: &str, name: &str, out: &mut Vec<u8>) {
    out.push(b'c');
    out.extend_from_slice(module.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
}

fn write_long(b: &BigInt, out: &mut Vec<u8>) {
    let bytes = b.to_signed_bytes_le();
    if bytes.len() < 256 {
        out.push(0x8a);
        out.push(bytes.len() as u8);
    } else {
        out.push(0x8b);
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(&bytes);
}

fn write(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::serialization("value nested too deeply to serialize"));
    }
    match v {
        Value::None => out.push(b'N'),
        Value::Bool(true) => out.push(0x88),
        Value::Bool(false) => out.push(0x89),
        Value::Int(i) => {
            if (0..256).contains(i) {
                out.push(b'K');
                out.push(*i as u8);
            } else if (0..65536).contains(i) {
                out.push(b'M');
                out.extend_from_slice(&(*i as u16).to_le_bytes());
            } else if let Ok(small) = i32::try_from(*i) {
                out.push(b'J');
                out.extend_from_slice(&small.to_le_bytes());
            } else {
                write_long(&BigInt::from(*i), out);
            }
        }
        Value::BigInt(b) => write_long(b, out),
        Value::Float(f) => {
            out.push(b'G');
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Complex { re, im } => {
            write_global("builtins", "complex", out);
            write(&Value::Float(*re), out, depth + 1)?;
            write(&Value::Float(*im), out, depth + 1)?;
            out.extend_from_slice(&[0x86, b'R']);
        }
        Value::Str(s) => {
            out.push(b'X');
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            if b.len() < 256 {
                out.push(b'C');
                out.push(b.len() as u8);
            } else {
                out.push(b'B');
                out.extend_from_slice(
                    &u32::try_from(b.len())
                        .map_err(|_| Error::serialization("bytes too large"))?
                        .to_le_bytes(),
                );
            }
            out.extend_from_slice(b);
        }
        Value::Tuple(items) => match items.len() {
            0 => out.push(b')'),
            1..=3 => {
                for i in items {
                    write(i, out, depth + 1)?;
                }
                out.push(0x84 + items.len() as u8);
            }
            _ => {
                out.push(b'(');
                for i in items {
                    write(i, out, depth + 1)?;
                }
                out.push(b't');
            }
        },
        Value::List(items) => {
            out.extend_from_slice(b"](");
            for i in items {
                write(i, out, depth + 1)?;
            }
            out.push(b'e');
        }
        Value::Set(items) => {
            write_global("builtins", "set", out);
            write(&Value::List(items.clone()), out, depth + 1)?;
            out.extend_from_slice(&[0x85, b'R']);
        }
        Value::Dict(items) => {
            out.extend_from_slice(b"}(");
            for (k, val) in items {
                write(k, out, depth + 1)?;
                write(val, out, depth + 1)?;
            }
            out.push(b'u');
        }
        Value::Object(o) => {
            // Pyro4's class-dict form (as the other serializers send objects).
            let mut items = vec![(Value::str("__class__"), Value::str(o.class.as_str()))];
            match &o.state {
                Value::Dict(d) => items.extend(d.iter().cloned()),
                other => items.push((Value::str("state"), other.clone())),
            }
            write(&Value::Dict(items), out, depth + 1)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- reading

enum Item {
    V(Value),
    Mark,
    /// A class or function, by qualified name: never imported.
    Global(String),
}

struct Machine<'a> {
    b: &'a [u8],
    pos: usize,
    stack: Vec<Item>,
    /// Memo ids of the value at each stack position (containers are memoized before
    /// they are filled; their memo entry is refreshed when they leave the stack).
    memo_of: Vec<Vec<u32>>,
    memo: HashMap<u32, Item>,
    depths: Vec<usize>,
    /// What DUP and GET may still copy. Python shares references where this tree copies
    /// them, so a short pickle could otherwise expand without bound.
    copy_budget: usize,
    refresh_budget: usize,
}

/// Nodes (and bytes / 16) in `v`, counting stops once past `limit`.
fn weight(v: &Value, limit: usize) -> usize {
    let mut n = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n += 1;
        match v {
            Value::Str(s) => n += s.len() / 16,
            Value::Bytes(b) => n += b.len() / 16,
            Value::List(items) | Value::Tuple(items) | Value::Set(items) => {
                stack.extend(items.iter())
            }
            Value::Dict(items) => {
                for (k, val) in items {
                    stack.push(k);
                    stack.push(val);
                }
            }
            Value::Object(o) => stack.push(&o.state),
            _ => {}
        }
        if n > limit {
            break;
        }
    }
    n
}

fn clone_item(i: &Item) -> Item {
    match i {
        Item::V(v) => Item::V(v.clone()),
        Item::Mark => Item::Mark,
        Item::Global(g) => Item::Global(g.clone()),
    }
}

fn value_depth(v: &Value) -> usize {
    // Only containers nest; computed incrementally through `depths`.
    match v {
        Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::Dict(_) | Value::Object(_) => 1,
        _ => 0,
    }
}

impl Machine<'_> {
    fn err<T>(&self, what: &str) -> Result<T> {
        Err(Error::serialization(format!(
            "invalid pickle: {what} at offset {}",
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

    fn le(&mut self, n: usize) -> Result<u64> {
        let b = self.take(n)?;
        let mut v = 0u64;
        for (i, x) in b.iter().enumerate() {
            v |= (*x as u64) << (8 * i);
        }
        Ok(v)
    }

    fn len_prefixed(&mut self, n: usize) -> Result<Vec<u8>> {
        let len = self.le(n)?;
        if len > (self.b.len() - self.pos) as u64 {
            return self.err(&format!("length {len} exceeds the remaining data"));
        }
        Ok(self.take(len as usize)?.to_vec())
    }

    fn line(&mut self) -> Result<String> {
        let rest = &self.b[self.pos..];
        let Some(end) = rest.iter().position(|&c| c == b'\n') else {
            return self.err("unterminated line");
        };
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }

    fn push(&mut self, item: Item) -> Result<()> {
        let d = match &item {
            Item::V(v) => value_depth(v),
            _ => 0,
        };
        self.push_depth(item, d)
    }

    fn push_depth(&mut self, item: Item, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return self.err(&format!("nesting deeper than {MAX_DEPTH}"));
        }
        if self.stack.len() > 1_000_000 {
            return self.err("stack too large");
        }
        self.stack.push(item);
        self.memo_of.push(Vec::new());
        self.depths.push(depth);
        Ok(())
    }

    /// Pop the top item, refreshing memo entries that refer to it.
    fn pop(&mut self) -> Result<(Item, usize)> {
        let Some(item) = self.stack.pop() else {
            return self.err("stack underflow");
        };
        let ids = self.memo_of.pop().unwrap_or_default();
        let d = self.depths.pop().unwrap_or(0);
        if !ids.is_empty() {
            // Refreshing a memo entry copies the finished container: charged too, at a
            // larger allowance, since Python memoizes every container it writes.
            if let Item::V(v) = &item {
                let w = weight(v, self.refresh_budget);
                if w > self.refresh_budget {
                    return self.err("pickle expands far beyond its size");
                }
                self.refresh_budget -= w;
            }
        }
        for id in ids {
            self.memo.insert(id, clone_item(&item));
        }
        Ok((item, d))
    }

    fn pop_value(&mut self) -> Result<(Value, usize)> {
        match self.pop()? {
            (Item::V(v), d) => Ok((v, d)),
            (Item::Global(g), _) => Ok((
                Value::Object(Box::new(Object {
                    class: g,
                    state: Value::None,
                })),
                1,
            )),
            (Item::Mark, _) => self.err("unexpected mark"),
        }
    }

    /// Values above the topmost mark (the mark is removed).
    fn pop_mark(&mut self) -> Result<(Vec<Value>, usize)> {
        let Some(m) = self.stack.iter().rposition(|i| matches!(i, Item::Mark)) else {
            return self.err("no mark on the stack");
        };
        let mut items = Vec::with_capacity(self.stack.len() - m - 1);
        let mut depth = 0;
        while self.stack.len() > m + 1 {
            let (v, d) = self.pop_value()?;
            depth = depth.max(d);
            items.push(v);
        }
        self.pop()?; // the mark
        items.reverse();
        Ok((items, depth))
    }

    fn top_mut(&mut self) -> Result<(&mut Value, &mut usize)> {
        match (self.stack.last_mut(), self.depths.last_mut()) {
            (Some(Item::V(v)), Some(d)) => Ok((v, d)),
            _ => Err(Error::serialization(format!(
                "invalid pickle: no value on the stack at offset {}",
                self.pos
            ))),
        }
    }

    fn run(mut self) -> Result<Value> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return self.err(&format!("unsupported pickle protocol {p}"));
                    }
                }
                0x95 => {
                    self.le(8)?; // FRAME: a length hint only
                }
                b'.' => {
                    let (v, _) = self.pop_value()?;
                    return Ok(v);
                }
                b'(' => self.push(Item::Mark)?,
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let Some(top) = self.stack.last() else {
                        return self.err("stack underflow");
                    };
                    // Charged before copying: Python shares the reference, we copy it.
                    let w = match top {
                        Item::V(v) => weight(v, self.copy_budget),
                        _ => 0,
                    };
                    if w > self.copy_budget {
                        return self.err("pickle expands far beyond its size (shared references copied too often)");
                    }
                    self.copy_budget -= w;
                    let (it, d) = (
                        clone_item(self.stack.last().unwrap()),
                        *self.depths.last().unwrap(),
                    );
                    self.push_depth(it, d)?;
                }
                b'N' => self.push(Item::V(Value::None))?,
                0x88 => self.push(Item::V(Value::Bool(true)))?,
                0x89 => self.push(Item::V(Value::Bool(false)))?,
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.push(Item::V(Value::Int(v as i64)))?
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Item::V(Value::Int(v as i64)))?
                }
                b'M' => {
                    let v = self.le(2)?;
                    self.push(Item::V(Value::Int(v as i64)))?
                }
                b'I' => {
                    let l = self.line()?;
                    let v = match l.as_str() {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        t => match BigInt::parse_bytes(t.trim().as_bytes(), 10) {
                            Some(b) if t.len() <= 4300 => Value::from_bigint(b),
                            _ => return self.err("invalid INT"),
                        },
                    };
                    self.push(Item::V(v))?
                }
                b'L' => {
                    let l = self.line()?;
                    let t = l.trim_end_matches('L');
                    match BigInt::parse_bytes(t.as_bytes(), 10) {
                        Some(b) if t.len() <= 4300 => self.push(Item::V(Value::from_bigint(b)))?,
                        _ => return self.err("invalid LONG"),
                    }
                }
                0x8a | 0x8b => {
                    let bytes = self.len_prefixed(if op == 0x8a { 1 } else { 4 })?;
                    if bytes.len() > 2000 {
                        return self.err("integer too large");
                    }
                    self.push(Item::V(Value::from_bigint(BigInt::from_signed_bytes_le(
                        &bytes,
                    ))))?
                }
                b'F' => {
                    let l = self.line()?;
                    match l.trim().parse::<f64>() {
                        Ok(f) => self.push(Item::V(Value::Float(f)))?,
                        Err(_) => return self.err("invalid FLOAT"),
                    }
                }
                b'G' => {
                    let b: [u8; 8] = self.take(8)?.try_into().unwrap();
                    self.push(Item::V(Value::Float(f64::from_be_bytes(b))))?
                }
                b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        b'X' => 4,
                        0x8c => 1,
                        _ => 8,
                    };
                    let b = self.len_prefixed(n)?;
                    // Python writes lone surrogates with surrogatepass; show them as U+FFFD.
                    self.push(Item::V(Value::Str(
                        String::from_utf8_lossy(&b).into_owned(),
                    )))?
                }
                b'V' => {
                    let l = self.line()?;
                    self.push(Item::V(Value::Str(raw_unicode_escape(&l))))?
                }
                b'S' => {
                    let l = self.line()?;
                    let v = crate::serial::serpent::parse_literal(&format!("b{}", l.trim()))
                        .map_err(|_| Error::serialization("invalid STRING"))?;
                    self.push(Item::V(v))?
                }
                b'T' | b'U' => {
                    let b = self.len_prefixed(if op == b'T' { 4 } else { 1 })?;
                    // Python 2 str: Python 3 reads it as ASCII text by default; keep bytes
                    // that are not ASCII rather than fail.
                    let v = match String::from_utf8(b.clone()) {
                        Ok(s) if s.is_ascii() => Value::Str(s),
                        _ => Value::Bytes(b),
                    };
                    self.push(Item::V(v))?
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match op {
                        b'B' => 4,
                        b'C' => 1,
                        _ => 8,
                    };
                    let b = self.len_prefixed(n)?;
                    self.push(Item::V(Value::Bytes(b)))?
                }
                0x97 | 0x98 => return self.err("out-of-band buffers are not supported"),
                b')' => self.push(Item::V(Value::Tuple(vec![])))?,
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    let mut depth = 0;
                    for _ in 0..n {
                        let (v, d) = self.pop_value()?;
                        depth = depth.max(d);
                        items.push(v);
                    }
                    items.reverse();
                    self.push_depth(Item::V(Value::Tuple(items)), depth + 1)?
                }
                b't' => {
                    let (items, d) = self.pop_mark()?;
                    self.push_depth(Item::V(Value::Tuple(items)), d + 1)?
                }
                b']' => self.push(Item::V(Value::List(vec![])))?,
                b'l' => {
                    let (items, d) = self.pop_mark()?;
                    self.push_depth(Item::V(Value::List(items)), d + 1)?
                }
                b'}' => self.push(Item::V(Value::Dict(vec![])))?,
                b'd' => {
                    let (items, d) = self.pop_mark()?;
                    let dict = pairs_to_dict(items)
                        .ok_or_else(|| Error::serialization("odd number of items for DICT"))?;
                    self.push_depth(Item::V(dict), d + 1)?
                }
                0x8f => self.push(Item::V(Value::Set(vec![])))?,
                0x91 => {
                    let (items, d) = self.pop_mark()?;
                    self.push_depth(Item::V(to_set(items)), d + 1)?
                }
                b'a' => {
                    let (v, d) = self.pop_value()?;
                    self.extend_top(vec![v], d)?
                }
                b'e' | 0x90 => {
                    let (items, d) = self.pop_mark()?;
                    self.extend_top(items, d)?
                }
                b's' => {
                    let (v, dv) = self.pop_value()?;
                    let (k, dk) = self.pop_value()?;
                    self.set_items_top(vec![k, v], dk.max(dv))?
                }
                b'u' => {
                    let (items, d) = self.pop_mark()?;
                    self.set_items_top(items, d)?
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Item::Global(format!("{module}.{name}")))?
                }
                0x93 => {
                    let (name, _) = self.pop_value()?;
                    let (module, _) = self.pop_value()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => {
                            self.push(Item::Global(format!("{m}.{n}")))?
                        }
                        _ => return self.err("STACK_GLOBAL needs two str"),
                    }
                }
                b'R' | 0x81 | 0x92 => {
                    let kwargs = if op == 0x92 {
                        Some(self.pop_value()?.0)
                    } else {
                        None
                    };
                    let (args, d) = self.pop_value()?;
                    let (callable, _) = self.pop()?;
                    let Item::Global(name) = callable else {
                        return self.err("REDUCE/NEWOBJ on something that is not a class");
                    };
                    let args = match args {
                        Value::Tuple(a) => a,
                        other => vec![other],
                    };
                    let v = reduce(&name, args, kwargs);
                    self.push_depth(Item::V(v), d + 1)?
                }
                b'b' => {
                    let (state, d) = self.pop_value()?;
                    let (top, td) = self.top_mut()?;
                    let v = std::mem::take(top);
                    *top = build(v, state);
                    *td = (*td).max(d + 1);
                }
                b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let (args, d) = self.pop_mark()?;
                    self.push_depth(
                        Item::V(reduce(&format!("{module}.{name}"), args, None)),
                        d + 1,
                    )?
                }
                b'o' => {
                    let Some(m) = self.stack.iter().rposition(|i| matches!(i, Item::Mark)) else {
                        return self.err("no mark on the stack");
                    };
                    let class = match self.stack.get(m + 1) {
                        Some(Item::Global(g)) => g.clone(),
                        _ => return self.err("OBJ without a class"),
                    };
                    let (mut items, d) = {
                        // Replace the class item by a placeholder so pop_mark sees values.
                        self.stack[m + 1] = Item::V(Value::None);
                        self.pop_mark()?
                    };
                    items.remove(0);
                    self.push_depth(Item::V(reduce(&class, items, None)), d + 1)?
                }
                b'p' | b'q' | b'r' | 0x94 => {
                    let id = match op {
                        b'p' => self
                            .line()?
                            .trim()
                            .parse::<u32>()
                            .map_err(|_| Error::serialization("invalid PUT"))?,
                        b'q' => self.u8()? as u32,
                        b'r' => self.le(4)? as u32,
                        _ => self.memo.len() as u32,
                    };
                    let Some(top) = self.stack.last() else {
                        return self.err("PUT with an empty stack");
                    };
                    self.memo.insert(id, clone_item(top));
                    self.memo_of.last_mut().unwrap().push(id);
                }
                b'g' | b'h' | b'j' => {
                    let id = match op {
                        b'g' => self
                            .line()?
                            .trim()
                            .parse::<u32>()
                            .map_err(|_| Error::serialization("invalid GET"))?,
                        b'h' => self.u8()? as u32,
                        _ => self.le(4)? as u32,
                    };
                    // A container still on the stack gives its current contents.
                    let live = self.memo_of.iter().rposition(|ids| ids.contains(&id));
                    let source: &Item = match live {
                        Some(pos) => &self.stack[pos],
                        None => match self.memo.get(&id) {
                            Some(i) => i,
                            None => return self.err(&format!("memo key {id} missing")),
                        },
                    };
                    let w = match source {
                        Item::V(v) => weight(v, self.copy_budget),
                        _ => 0,
                    };
                    if w > self.copy_budget {
                        return self.err("pickle expands far beyond its size (shared references copied too often)");
                    }
                    let item = clone_item(source);
                    self.copy_budget -= w;
                    self.push(item)?
                }
                b'P' | b'Q' => return self.err("persistent ids are not supported"),
                0x82..=0x84 => return self.err("extension registry codes are not supported"),
                other => return self.err(&format!("unknown opcode 0x{other:02x}")),
            }
        }
    }

    fn extend_top(&mut self, items: Vec<Value>, d: usize) -> Result<()> {
        let (top, td) = self.top_mut()?;
        match top {
            Value::List(v) => v.extend(items),
            Value::Set(v) => {
                for i in items {
                    if !v.contains(&i) {
                        v.push(i);
                    }
                }
            }
            Value::Object(o) => {
                // list subclasses: keep the items in the state
                let mut list = match o.state.dict_get_str("items") {
                    Some(Value::List(l)) => l.clone(),
                    _ => Vec::new(),
                };
                list.extend(items);
                if !matches!(o.state, Value::Dict(_)) {
                    o.state = Value::Dict(vec![]);
                }
                o.state.dict_set(Value::str("items"), Value::List(list));
            }
            _ => {
                return Err(Error::serialization(
                    "APPEND to something that is not a list or set",
                ))
            }
        }
        *td = (*td).max(d + 1);
        if *td > MAX_DEPTH {
            return self.err(&format!("nesting deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }

    fn set_items_top(&mut self, items: Vec<Value>, d: usize) -> Result<()> {
        if items.len() % 2 != 0 {
            return self.err("odd number of items for SETITEMS");
        }
        let (top, td) = self.top_mut()?;
        let target = match top {
            Value::Dict(_) => top,
            Value::Object(o) => {
                if !matches!(o.state, Value::Dict(_)) {
                    o.state = Value::Dict(vec![]);
                }
                &mut o.state
            }
            _ => {
                return Err(Error::serialization(
                    "SETITEM on something that is not a dict",
                ))
            }
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            target.dict_set(k, v);
        }
        *td = (*td).max(d + 1);
        if *td > MAX_DEPTH {
            return self.err(&format!("nesting deeper than {MAX_DEPTH}"));
        }
        Ok(())
    }
}

fn pairs_to_dict(items: Vec<Value>) -> Option<Value> {
    if items.len() % 2 != 0 {
        return None;
    }
    let mut d = Value::Dict(Vec::new());
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        d.dict_set(k, v);
    }
    Some(d)
}

fn to_set(items: Vec<Value>) -> Value {
    let mut set: Vec<Value> = Vec::new();
    for i in items {
        if !set.contains(&i) {
            set.push(i);
        }
    }
    Value::Set(set)
}

fn raw_unicode_escape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('u') | Some('U')) {
            let n = if chars.next() == Some('u') { 4 } else { 8 };
            let hex: String = chars.by_ref().take(n).collect();
            out.push(
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{FFFD}'),
            );
        } else {
            out.push(c);
        }
    }
    out
}

fn is_exception_class(name: &str) -> bool {
    let short = name.rsplit('.').next().unwrap_or(name);
    name.starts_with("Pyro4.errors.")
        || ["Error", "Exception", "Warning", "Exit", "Interrupt"]
            .iter()
            .any(|s| short.ends_with(s))
        || matches!(
            short,
            "StopIteration" | "StopAsyncIteration" | "GeneratorExit"
        )
}

fn exception(class: &str, args: Vec<Value>) -> Value {
    Value::Object(Box::new(Object {
        class: class.to_string(),
        state: Value::Dict(vec![
            (Value::str("__exception__"), Value::Bool(true)),
            (Value::str("args"), Value::Tuple(args)),
            (Value::str("attributes"), Value::Dict(vec![])),
        ]),
    }))
}

fn digits(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |a, &x| (a << 8) | x as u32)
}

/// Python 3's datetime pickles: the state is a packed byte string.
fn datetime_text(class: &str, state: &[u8]) -> Option<String> {
    let time = |b: &[u8]| {
        let us = digits(&b[3..6]);
        let base = format!("{:02}:{:02}:{:02}", b[0] & 0x7f, b[1], b[2]);
        if us != 0 {
            format!("{base}.{us:06}")
        } else {
            base
        }
    };
    match (class, state.len()) {
        ("datetime.date", 4) => Some(format!(
            "{:04}-{:02}-{:02}",
            digits(&state[..2]),
            state[2],
            state[3]
        )),
        ("datetime.datetime", 10) => Some(format!(
            "{:04}-{:02}-{:02}T{}",
            digits(&state[..2]),
            state[2] & 0x7f,
            state[3],
            time(&state[4..])
        )),
        ("datetime.time", 6) => Some(time(state)),
        _ => None,
    }
}

fn object(class: &str, args: Vec<Value>) -> Value {
    let mut state = Value::Dict(vec![]);
    if !args.is_empty() {
        state.dict_set(Value::str("args"), Value::Tuple(args));
    }
    Value::Object(Box::new(Object {
        class: class.to_string(),
        state,
    }))
}

/// REDUCE / NEWOBJ of a class by name: the mapping table above. Never calls anything.
fn reduce(name: &str, args: Vec<Value>, _kwargs: Option<Value>) -> Value {
    let name = name
        .strip_prefix("__builtin__.")
        .map(|n| format!("builtins.{n}"))
        .unwrap_or_else(|| name.to_string());
    let first = args.first().cloned();
    match (name.as_str(), first) {
        (
            "builtins.set" | "builtins.frozenset",
            Some(Value::List(items) | Value::Tuple(items) | Value::Set(items)),
        ) => to_set(items),
        ("builtins.set" | "builtins.frozenset", None) => Value::Set(vec![]),
        ("builtins.complex", _) => {
            let f = |v: Option<&Value>| match v {
                Some(Value::Float(f)) => *f,
                Some(Value::Int(i)) => *i as f64,
                _ => 0.0,
            };
            Value::Complex {
                re: f(args.first()),
                im: f(args.get(1)),
            }
        }
        ("builtins.bytearray" | "builtins.bytes", Some(Value::Bytes(b))) => Value::Bytes(b),
        ("builtins.bytearray" | "builtins.bytes", None) => Value::Bytes(vec![]),
        ("builtins.bytearray" | "builtins.bytes" | "_codecs.encode", Some(Value::Str(s))) => {
            // Protocol 2 writes bytes as encode(latin-1 text)
            Value::Bytes(s.chars().map(|c| c as u32 as u8).collect())
        }
        ("builtins.bytearray", Some(Value::List(items))) => Value::Bytes(
            items
                .iter()
                .filter_map(|i| i.as_i64())
                .map(|i| i as u8)
                .collect(),
        ),
        ("collections.OrderedDict", _) => Value::Dict(vec![]),
        ("decimal.Decimal", Some(Value::Str(s))) => Value::Str(s),
        ("datetime.date" | "datetime.datetime" | "datetime.time", Some(Value::Bytes(b))) => {
            datetime_text(&name, &b)
                .map(Value::Str)
                .unwrap_or_else(|| object(&name, args))
        }
        ("datetime.timedelta", _) => {
            let n = |i: usize| args.get(i).and_then(Value::as_i64).unwrap_or(0) as f64;
            Value::Float(n(0) * 86400.0 + n(1) + n(2) / 1e6)
        }
        ("array._array_reconstructor", _) => match (args.get(1), args.get(2), args.get(3)) {
            (Some(Value::Str(tc)), Some(fmt), Some(Value::Bytes(b))) => {
                array_items(tc, fmt.as_i64().unwrap_or(-1), b)
            }
            _ => object(&name, args),
        },
        ("array.array", Some(Value::Str(_))) => match args.get(1) {
            Some(Value::List(l)) => Value::List(l.clone()),
            _ => object(&name, args),
        },
        ("copyreg._reconstructor", Some(Value::Object(cls))) if cls.state == Value::None => {
            let class = cls.class.clone();
            if is_exception_class(&class) {
                exception(&class, vec![])
            } else {
                object(&class, vec![])
            }
        }
        ("copyreg.__newobj__", Some(Value::Object(cls))) if cls.state == Value::None => {
            reduce(&cls.class.clone(), args[1..].to_vec(), None)
        }
        (n, _) if is_exception_class(n) => exception(n, args),
        (n, _) => object(n, args),
    }
}

/// array.array's machine formats as Python 3 pickles them (little-endian common ones).
fn array_items(typecode: &str, mformat: i64, b: &[u8]) -> Value {
    let chunk =
        |n: usize, f: &dyn Fn(&[u8]) -> Value| Value::List(b.chunks_exact(n).map(f).collect());
    match mformat {
        0 => chunk(1, &|c| Value::Int(c[0] as i64)),
        1 => chunk(1, &|c| Value::Int(c[0] as i8 as i64)),
        2 => chunk(2, &|c| Value::Int(u16::from_le_bytes([c[0], c[1]]) as i64)),
        4 => chunk(2, &|c| Value::Int(i16::from_le_bytes([c[0], c[1]]) as i64)),
        6 => chunk(4, &|c| {
            Value::Int(u32::from_le_bytes(c.try_into().unwrap()) as i64)
        }),
        8 => chunk(4, &|c| {
            Value::Int(i32::from_le_bytes(c.try_into().unwrap()) as i64)
        }),
        10 => chunk(8, &|c| {
            Value::from_bigint(u64::from_le_bytes(c.try_into().unwrap()).into())
        }),
        12 => chunk(8, &|c| {
            Value::Int(i64::from_le_bytes(c.try_into().unwrap()))
        }),
        14 => chunk(4, &|c| {
            Value::Float(f32::from_le_bytes(c.try_into().unwrap()) as f64)
        }),
        16 => chunk(8, &|c| {
            Value::Float(f64::from_le_bytes(c.try_into().unwrap()))
        }),
        20 => Value::Str(
            b.chunks_exact(4)
                .filter_map(|c| char::from_u32(u32::from_le_bytes(c.try_into().unwrap())))
                .collect(),
        ),
        _ => Value::Object(Box::new(Object {
            class: "array.array".into(),
            state: Value::Dict(vec![
                (Value::str("typecode"), Value::str(typecode)),
                (Value::str("data"), Value::Bytes(b.to_vec())),
            ]),
        })),
    }
}

/// BUILD: merge state into the object (exceptions keep their shape).
fn build(target: Value, state: Value) -> Value {
    // Python's state may be (dict, slots_dict).
    let (dict, slots) = match state {
        Value::Tuple(mut t) if t.len() == 2 => {
            let s = t.pop().unwrap();
            (t.pop().unwrap(), s)
        }
        other => (other, Value::None),
    };
    match target {
        Value::Object(mut o) => {
            let is_exc = o.state.dict_get_str("__exception__").is_some();
            let has_tb = dict.dict_get_str("_pyroTraceback").is_some();
            // Anything carrying a Pyro4 remote traceback is an exception, whatever its name.
            if is_exc || has_tb {
                if !is_exc {
                    let args = o
                        .state
                        .dict_get_str("args")
                        .cloned()
                        .unwrap_or(Value::Tuple(vec![]));
                    o.state = Value::Dict(vec![
                        (Value::str("__exception__"), Value::Bool(true)),
                        (Value::str("args"), args),
                        (Value::str("attributes"), Value::Dict(vec![])),
                    ]);
                }
                let mut attrs = o
                    .state
                    .dict_get_str("attributes")
                    .cloned()
                    .unwrap_or(Value::Dict(vec![]));
                for part in [dict, slots] {
                    if let Value::Dict(items) = part {
                        for (k, v) in items {
                            attrs.dict_set(k, v);
                        }
                    }
                }
                o.state.dict_set(Value::str("attributes"), attrs);
                return Value::Object(o);
            }
            if o.class == "uuid.UUID" {
                if let Some(Value::Int(_) | Value::BigInt(_)) = dict.dict_get_str("int") {
                    if let Some(text) = uuid_text(dict.dict_get_str("int").unwrap()) {
                        return Value::Str(text);
                    }
                }
            }
            match dict {
                Value::Dict(items) => {
                    if !matches!(o.state, Value::Dict(_)) {
                        o.state = Value::Dict(vec![]);
                    }
                    for (k, v) in items {
                        o.state.dict_set(k, v);
                    }
                    if let Value::Dict(items) = slots {
                        for (k, v) in items {
                            o.state.dict_set(k, v);
                        }
                    }
                }
                Value::None => {}
                // Non-dict state (URI, Proxy): keep it as is.
                other => o.state = other,
            }
            Value::Object(o)
        }
        // State for a value we already mapped (e.g. a datetime subclass): keep the value.
        other => other,
    }
}

fn uuid_text(v: &Value) -> Option<String> {
    let n = match v {
        Value::Int(i) => BigInt::from(*i),
        Value::BigInt(b) => b.clone(),
        _ => return None,
    };
    let (sign, bytes) = n.to_bytes_be();
    if sign == Sign::Minus || bytes.len() > 16 {
        return None;
    }
    let mut full = vec![0u8; 16 - bytes.len()];
    full.extend(bytes);
    let h: String = full.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// Decode a pickle (protocols 0–5). Never imports or executes anything.
pub fn decode(data: &[u8]) -> Result<Value> {
    let m = Machine {
        b: data,
        pos: 0,
        stack: Vec::new(),
        memo_of: Vec::new(),
        memo: HashMap::new(),
        depths: Vec::new(),
        copy_budget: data.len().saturating_mul(8).max(1 << 16),
        refresh_budget: data.len().saturating_mul(64).max(1 << 20),
    };
    m.run()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::serpent::parse_literal;

    #[test]
    fn round_trips() {
        for lit in [
            "(1, -2, 300, 70000, 2147483648, -123456789012345678901234567890, 1.5, (1+2j), 'h\\u00e9', b'\\x00', None, True, False)",
            "{'a': [1, {2, 3}], (1,): {}, 'e': set()}",
            "()",
            "[[], [[]], ((),)]",
        ] {
            let v = parse_literal(lit).unwrap();
            assert_eq!(decode(&encode(&v).unwrap()).unwrap(), v, "{lit}");
        }
    }

    #[test]
    fn hostile_pickles() {
        let mut deep = vec![0x80, 4];
        for _ in 0..100_000 {
            deep.extend_from_slice(b"](");
        }
        assert!(decode(&deep).is_err());
        let mut deep2 = vec![0x80, 4];
        deep2.extend(std::iter::repeat_n(b']', 100_000));
        deep2.extend(std::iter::repeat_n(b'a', 100_000));
        deep2.push(b'.');
        assert!(decode(&deep2).is_err());
        assert!(decode(&[0x80, 4, 0x8e, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 1]).is_err()); // 2 GB BINBYTES8
        assert!(decode(b"\x80\x04h\x05.").is_err()); // memo out of range
        assert!(decode(b"\x80\x04\xff.").is_err());
        assert!(decode(b"").is_err());
        // os.system('rm -rf /') becomes an inert object
        // DUP + TUPLE3 doubling: exponential if references were copied without limit
        let mut bomb = vec![0x80, 4, b')'];
        for _ in 0..200 {
            bomb.extend_from_slice(&[b'2', b'2', 0x87]);
        }
        bomb.push(b'.');
        assert!(decode(&bomb).unwrap_err().message.contains("expands"));
        let evil = b"cos\nsystem\n(S'rm -rf /'\ntR.";
        let v = decode(evil).unwrap();
        assert!(matches!(&v, Value::Object(o) if o.class == "os.system"));
        let good = encode(&parse_literal("{'k': [1, 2.5, 'x', b'y', (1, 2)]}").unwrap()).unwrap();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
    }
}
