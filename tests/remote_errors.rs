//! Error messages made from what a real Pyro4 4.82 server sends: a remote exception's
//! message is Python's `str()` of it, over every serializer, and a refused connection
//! gives the server's reason.

mod common;

use common::{fixture, python, run_until, TestServer};
use pyro_async::runtime::{CallRequest, Context, ContextOptions, Outcome, Proxy};
use pyro_async::serial::SerializerId;
use pyro_async::{ErrorKind, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

fn call(ctx: &Context, p: &Proxy, method: &str, args: Vec<Value>) -> Outcome {
    let done = Arc::new(Mutex::new(Vec::new()));
    let d = done.clone();
    p.call(
        CallRequest::new(method, args, Vec::new()),
        Box::new(move |o| d.lock().unwrap().push(o)),
    )
    .unwrap();
    run_until(ctx, &done, 1, 30);
    let o = done.lock().unwrap().pop().unwrap();
    o
}

fn text(v: &Value) -> String {
    v.as_str().expect("a str").to_string()
}

/// What Pyro4's own Python client raises for each `raise_builtin(i)`: (class, str(exc)).
fn python_client(uri: &str, serializer: &str, n: usize) -> Vec<(String, String)> {
    let mut child = Command::new(python())
        .arg(fixture("pyro_client_oracle.py"))
        .args([uri, serializer])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for i in 0..n {
            writeln!(
                stdin,
                "{{\"method\": \"raise_builtin\", \"args\": \"({i},)\"}}"
            )
            .unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "oracle failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            // its JSON lines read as Python literals too
            let v = pyro_async::serial::serpent::parse_literal(l).unwrap();
            let field = |k| text(v.dict_get_str(k).unwrap_or_else(|| panic!("{l}")));
            (field("error"), field("message"))
        })
        .collect()
}

/// Cases where the server's `str()` cannot be rebuilt from what the serializer carries,
/// so the reference is what Pyro4's own Python client makes of the same reply.
fn lossy(serializer: &str, expr: &str) -> Option<&'static str> {
    let os_filename = expr.starts_with("OSError(2, 'No such file or directory', 'a'")
        || expr.starts_with("OSError(2, 'No such file or directory', 'x.txt'")
        || expr.starts_with("FileNotFoundError(2, 'No such file or directory', \"dir")
        || expr.starts_with("PermissionError(13")
        || expr.starts_with("FileExistsError(17");
    match serializer {
        "serpent" | "json" | "marshal" if os_filename => {
            Some("OSError keeps the filename in neither args nor __dict__; only pickle sends it")
        }
        "json" if expr == "Exception({'k': (1,)})" || expr == "KeyError(('a', 1))" => {
            Some("json has no tuples")
        }
        "serpent" if expr == "Exception(b'raw')" => {
            Some("serpent sends bytes as a base64 dict, which Pyro4 passes on as a dict")
        }
        _ => None,
    }
}

#[test]
fn remote_exception_messages_are_python_str() {
    let server = TestServer::start(&[]);
    let uri = server.uri("test.echo");
    let ctx = common::new_context(ContextOptions::default());
    let plain = ctx.proxy(&uri).unwrap();
    let cases: Vec<(String, String, String)> =
        match call(&ctx, &plain, "builtin_exceptions", vec![])
            .unwrap()
            .value
        {
            Value::List(items) => items
                .iter()
                .map(|c| {
                    let c = c.as_seq().unwrap();
                    (text(&c[0]), text(&c[1]), text(&c[2]))
                })
                .collect(),
            other => panic!("{other:?}"),
        };
    assert!(cases.len() > 50);

    let mut failures = Vec::new();
    let mut checked = 0;
    for ser in common::SERIALIZERS {
        let reference = python_client(&uri, ser.name(), cases.len());
        assert_eq!(reference.len(), cases.len());
        let mut p = ctx.proxy(&uri).unwrap();
        p.set_serializer(ser);
        for (i, (expr, class, server_str)) in cases.iter().enumerate() {
            let e = call(&ctx, &p, "raise_builtin", vec![Value::Int(i as i64)]).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Remote, "{expr}: {e:?}");
            let got_class = &e.remote.as_ref().unwrap().type_name;
            let (py_class, py_str) = &reference[i];
            let want = if got_class != class {
                // The server could not serialize the exception and sent a PyroError
                // saying so; Python's client gets that one too.
                if got_class != py_class {
                    failures.push(format!(
                        "{} {expr}: class {got_class}, Python client got {py_class}",
                        ser.name()
                    ));
                    continue;
                }
                py_str
            } else if lossy(ser.name(), expr).is_some() {
                assert_eq!(py_class, class, "{expr}");
                py_str
            } else {
                server_str
            };
            checked += 1;
            if &e.message != want {
                failures.push(format!(
                    "{} {expr}: got {:?}, Python's str() is {want:?}",
                    ser.name(),
                    e.message
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A server that refuses the handshake: the message is the server's reason (Pyro4 sends
/// `str()` of the exception its validateHandshake raised), with no serializer blamed; a
/// serializer the server does not accept is named.
#[test]
fn refused_handshake_gives_the_servers_reason() {
    let server = TestServer::start(&[]);
    let ctx = common::new_context(ContextOptions::default());
    for ser in common::SERIALIZERS {
        let uri = server.uri("test.echo");
        let mut p = ctx.proxy(&uri).unwrap();
        p.set_serializer(ser);
        p.update_wire(|w| {
            w.handshake = Value::Dict(vec![(
                Value::str("refuse"),
                Value::str("not on the guest list"),
            )])
        });
        let e = call(&ctx, &p, "echo", vec![Value::Int(1)]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Communication, "{e:?}");
        assert_eq!(
            e.message,
            format!("connection rejected by the server: not on the guest list ({uri})"),
            "{}",
            ser.name()
        );
    }

    let only_serpent = TestServer::start(&["--serializer", "serpent"]);
    let uri = only_serpent.uri("test.echo");
    let mut p = ctx.proxy(&uri).unwrap();
    p.set_serializer(SerializerId::Json);
    let e = call(&ctx, &p, "echo", vec![Value::Int(1)]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Communication);
    assert_eq!(
        e.message,
        format!(
            "connection rejected by the server: \
             message used serializer that is not accepted: 2 (json) ({uri})"
        )
    );
}
