//! Turning a serialized Python exception into a structured [`RemoteError`].
//!
//! Every serializer delivers exceptions in Pyro4's class-dict shape, decoded as
//! `Object{class, state: {'__exception__': True, 'args': (...), 'attributes': {...}}}`.

use crate::error::{repr_preview, tuple_repr_preview, RemoteError};
use crate::value::Value;

/// The remote error carried by `v`, if `v` is an exception in Pyro4's shape.
pub fn remote_error_from_value(v: &Value) -> Option<RemoteError> {
    let Value::Object(obj) = v else { return None };
    let state = &obj.state;
    let args = match state.dict_get_str("args") {
        Some(Value::List(items)) => Value::Tuple(items.clone()),
        Some(a @ Value::Tuple(_)) => a.clone(),
        Some(other) => Value::Tuple(vec![other.clone()]),
        None => Value::Tuple(Vec::new()),
    };
    let attributes = state
        .dict_get_str("attributes")
        .cloned()
        .unwrap_or(Value::Dict(Vec::new()));
    let traceback = attributes
        .dict_get_str("_pyroTraceback")
        .and_then(traceback_text);
    Some(RemoteError {
        type_name: obj.class.clone(),
        args,
        traceback,
        attributes,
    })
}

/// Python's `str()` of an exception of class `class` (as Pyro4 names it, e.g.
/// `builtins.KeyError`) whose `args` arrived: `BaseException.__str__`, or the override of
/// a builtin class that has one, as CPython 3 implements them. Only `args` is used: Pyro4
/// sends `exc.args` and the instance `__dict__`, and the fields these overrides read
/// (errno, filename, lineno, ...) are C-level attributes parsed from the constructor's
/// arguments, never in the `__dict__`. So where `args` does not hold them, neither does
/// any Python client: OSError keeps the filename out of `args` (pickle's `__reduce__`
/// puts it back, the other serializers lose it).
pub(crate) fn exception_str(class: &str, args: &Value) -> String {
    let items = match args {
        Value::Tuple(items) | Value::List(items) => items.as_slice(),
        other => return str_of(other),
    };
    let Some(name) = class.strip_prefix("builtins.") else {
        return match class {
            "socket.gaierror" | "socket.herror" => os_error_str(name_of(class), items),
            c if c.starts_with("ssl.SSL") && c.ends_with("Error") => ssl_error_str(items),
            _ => base_str(items),
        };
    };
    match name {
        "KeyError" => match items {
            [key] => repr_preview(key),
            _ => base_str(items),
        },
        "OSError"
        | "BlockingIOError"
        | "ChildProcessError"
        | "ConnectionError"
        | "BrokenPipeError"
        | "ConnectionAbortedError"
        | "ConnectionRefusedError"
        | "ConnectionResetError"
        | "FileExistsError"
        | "FileNotFoundError"
        | "InterruptedError"
        | "IsADirectoryError"
        | "NotADirectoryError"
        | "PermissionError"
        | "ProcessLookupError"
        | "TimeoutError" => os_error_str(name, items),
        "UnicodeDecodeError" => unicode_decode_str(items).unwrap_or_else(|| base_str(items)),
        "UnicodeEncodeError" => unicode_encode_str(items).unwrap_or_else(|| base_str(items)),
        "UnicodeTranslateError" => unicode_translate_str(items).unwrap_or_else(|| base_str(items)),
        "SyntaxError" | "IndentationError" | "TabError" => syntax_error_str(items),
        "ExceptionGroup" | "BaseExceptionGroup" => match items {
            [msg, Value::List(excs) | Value::Tuple(excs)] => format!(
                "{} ({} sub-exception{})",
                str_of(msg),
                excs.len(),
                if excs.len() > 1 { "s" } else { "" }
            ),
            _ => base_str(items),
        },
        _ => base_str(items),
    }
}

fn name_of(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

/// `BaseException.__str__`: '' for no args, `str(arg)` for one, `str(args)` otherwise.
fn base_str(items: &[Value]) -> String {
    match items {
        [] => String::new(),
        [one] => str_of(one),
        _ => tuple_repr_preview(items),
    }
}

/// Python's `str(v)`: a str itself, an exception its own `str()`, anything else (numbers,
/// bytes, containers) its repr.
fn str_of(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Object(o) => match o.state.dict_get_str("__exception__") {
            Some(_) => exception_str(
                &o.class,
                o.state
                    .dict_get_str("args")
                    .unwrap_or(&Value::Tuple(Vec::new())),
            ),
            None => repr_preview(v),
        },
        other => repr_preview(other),
    }
}

/// `OSError.__str__`: with 2 to 5 args they are (errno, strerror, filename, winerror,
/// filename2), and a filename other than None is shown by its repr.
fn os_error_str(name: &str, items: &[Value]) -> String {
    if !(2..=5).contains(&items.len()) {
        return base_str(items);
    }
    let (errno, strerror) = (str_of(&items[0]), str_of(&items[1]));
    let filename = items.get(2).filter(|f| **f != Value::None);
    // BlockingIOError's third argument may be the number of characters written instead.
    let filename = filename.filter(|f| {
        name != "BlockingIOError" || !matches!(f, Value::Int(_) | Value::BigInt(_) | Value::Bool(_))
    });
    let filename2 = items.get(4).filter(|f| **f != Value::None);
    match (filename, filename2) {
        (Some(f), Some(f2)) => format!(
            "[Errno {errno}] {strerror}: {} -> {}",
            repr_preview(f),
            repr_preview(f2)
        ),
        (Some(f), None) => format!("[Errno {errno}] {strerror}: {}", repr_preview(f)),
        (None, _) => format!("[Errno {errno}] {strerror}"),
    }
}

/// `ssl.SSLError.__str__`: its strerror when that is a str, else `str(args)` (the tuple,
/// whatever the number of args).
fn ssl_error_str(items: &[Value]) -> String {
    match items {
        [_, Value::Str(strerror), ..] if items.len() <= 5 => strerror.clone(),
        _ => tuple_repr_preview(items),
    }
}

fn py_ssize(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(*b as i64),
        _ => None,
    }
}

/// The bytes of a bytes argument; serpent sends bytes as `{'data': base64, 'encoding':
/// 'base64'}`, and Pyro4 passes that dict on as it is.
fn bytes_arg(v: &Value) -> Option<std::borrow::Cow<'_, [u8]>> {
    use base64::Engine;
    match v {
        Value::Bytes(b) => Some(std::borrow::Cow::Borrowed(b)),
        Value::Dict(items) if items.len() == 2 => {
            if v.dict_get_str("encoding")?.as_str()? != "base64" {
                return None;
            }
            let data = v.dict_get_str("data")?.as_str()?;
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .ok()
                .map(std::borrow::Cow::Owned)
        }
        _ => None,
    }
}

/// `UnicodeDecodeError.__str__` for args (encoding, object, start, end, reason).
fn unicode_decode_str(items: &[Value]) -> Option<String> {
    let [Value::Str(encoding), object, start, end, Value::Str(reason)] = items else {
        return None;
    };
    let (object, start, end) = (bytes_arg(object)?, py_ssize(start)?, py_ssize(end)?);
    Some(
        match usize::try_from(start).ok().and_then(|s| object.get(s)) {
            Some(byte) if end == start + 1 => format!(
                "'{encoding}' codec can't decode byte 0x{byte:02x} in position {start}: {reason}"
            ),
            _ => format!(
                "'{encoding}' codec can't decode bytes in position {start}-{}: {reason}",
                end - 1
            ),
        },
    )
}

/// The code point at index `start` of `s`, when `end` is `start + 1`.
fn one_char(s: &str, start: i64, end: i64) -> Option<char> {
    if end != start + 1 {
        return None;
    }
    s.chars().nth(usize::try_from(start).ok()?)
}

fn char_escape(c: char) -> String {
    match c as u32 {
        n @ 0..=0xff => format!("\\x{n:02x}"),
        n @ 0x100..=0xffff => format!("\\u{n:04x}"),
        n => format!("\\U{n:08x}"),
    }
}

/// `UnicodeEncodeError.__str__` for args (encoding, object, start, end, reason).
fn unicode_encode_str(items: &[Value]) -> Option<String> {
    let [Value::Str(encoding), Value::Str(object), start, end, Value::Str(reason)] = items else {
        return None;
    };
    let (start, end) = (py_ssize(start)?, py_ssize(end)?);
    Some(match one_char(object, start, end) {
        Some(c) => format!(
            "'{encoding}' codec can't encode character '{}' in position {start}: {reason}",
            char_escape(c)
        ),
        None => format!(
            "'{encoding}' codec can't encode characters in position {start}-{}: {reason}",
            end - 1
        ),
    })
}

/// `UnicodeTranslateError.__str__` for args (object, start, end, reason).
fn unicode_translate_str(items: &[Value]) -> Option<String> {
    let [Value::Str(object), start, end, Value::Str(reason)] = items else {
        return None;
    };
    let (start, end) = (py_ssize(start)?, py_ssize(end)?);
    Some(match one_char(object, start, end) {
        Some(c) => format!(
            "can't translate character '{}' in position {start}: {reason}",
            char_escape(c)
        ),
        None => format!(
            "can't translate characters in position {start}-{}: {reason}",
            end - 1
        ),
    })
}

/// `SyntaxError.__str__`: msg is the first arg (None without args); only with exactly
/// two args is the second (filename, lineno, offset, text[, end_lineno, end_offset]),
/// and then a str filename (its last path component, as on POSIX) and an int lineno
/// are added.
fn syntax_error_str(items: &[Value]) -> String {
    let msg = items.first().map_or_else(|| "None".to_string(), str_of);
    let info = match items {
        [_, Value::Tuple(info) | Value::List(info)] if (4..=6).contains(&info.len()) => Some(info),
        _ => None,
    };
    let filename = info
        .and_then(|i| i[0].as_str())
        .map(|f| match f.rfind('/') {
            Some(i) => &f[i + 1..],
            None => f,
        });
    let lineno = info.and_then(|i| match &i[1] {
        Value::Int(n) => Some(*n),
        // PyLong_AsLongAndOverflow's answer past a C long
        Value::BigInt(_) => Some(-1),
        _ => None,
    });
    match (filename, lineno) {
        (None, None) => msg,
        (Some(f), Some(l)) => format!("{msg} ({f}, line {l})"),
        (Some(f), None) => format!("{msg} ({f})"),
        (None, Some(l)) => format!("{msg} (line {l})"),
    }
}

/// Pyro4 sends the traceback as a list of lines (or one string).
fn traceback_text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::List(lines) | Value::Tuple(lines) => Some(
            lines
                .iter()
                .filter_map(|l| l.as_str())
                .collect::<Vec<_>>()
                .concat(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Object;

    #[test]
    fn builds_structured_error() {
        let state = Value::Dict(vec![
            (Value::str("__exception__"), Value::Bool(true)),
            (
                Value::str("args"),
                Value::Tuple(vec![Value::str("division by zero")]),
            ),
            (
                Value::str("attributes"),
                Value::Dict(vec![(
                    Value::str("_pyroTraceback"),
                    Value::List(vec![
                        Value::str("Traceback:\n"),
                        Value::str("ZeroDivisionError\n"),
                    ]),
                )]),
            ),
        ]);
        let v = Value::Object(Box::new(Object {
            class: "builtins.ZeroDivisionError".into(),
            state,
        }));
        let r = remote_error_from_value(&v).unwrap();
        assert_eq!(r.type_name, "builtins.ZeroDivisionError");
        assert_eq!(
            r.traceback.as_deref(),
            Some("Traceback:\nZeroDivisionError\n")
        );
        let e = crate::Error::remote(r);
        assert_eq!(e.message, "division by zero");
    }

    /// The branches no real server reaches (tests/remote_errors.rs checks the others
    /// against Python over the wire).
    #[test]
    fn str_of_unusual_args() {
        let t = |items: Vec<Value>| Value::Tuple(items);
        let huge = Value::BigInt(num_bigint::BigInt::from(1u8) << 100u32);
        let info = t(vec![Value::str("a/b.py"), huge, Value::None, Value::None]);
        assert_eq!(
            exception_str("builtins.SyntaxError", &t(vec![Value::str("m"), info])),
            "m (b.py, line -1)"
        );
        // a class outside builtins that happens to share a name keeps the base rules
        assert_eq!(
            exception_str("mymodule.KeyError", &t(vec![Value::str("k")])),
            "k"
        );
        assert_eq!(
            exception_str("builtins.Exception", &Value::str("not a tuple")),
            "not a tuple"
        );
        // a malformed UnicodeDecodeError (no real one has these args) falls back
        assert_eq!(
            exception_str(
                "builtins.UnicodeDecodeError",
                &t(vec![Value::str("utf-8"), Value::Int(1)])
            ),
            "('utf-8', 1)"
        );
        assert_eq!(
            exception_str(
                "builtins.BlockingIOError",
                &t(vec![Value::Int(11), Value::str("busy"), Value::str("f")])
            ),
            "[Errno 11] busy: 'f'"
        );
    }
}
