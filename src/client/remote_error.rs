//! Turning a serialized Python exception into a structured [`RemoteError`].
//!
//! Every serializer delivers exceptions in Pyro4's class-dict shape, decoded as
//! `Object{class, state: {'__exception__': True, 'args': (...), 'attributes': {...}}}`.

use crate::error::RemoteError;
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
}
