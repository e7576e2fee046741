//! The json serializer (Pyro4 id 2) against real Pyro4 4.82 payloads and Python's own decoder.

#[path = "fixtures/json/test_support.rs"]
mod support;

use proptest::prelude::*;
use pyro_async::serial::json;
use pyro_async::{ErrorKind, Value};
use support::*;

/// The value each golden payload must decode to (None: the fixture has no payload because
/// Pyro4 itself refuses to serialize the value, or it is checked separately).
fn expected(name: &str) -> Option<Value> {
    let uri_state = list(vec![
        s("PYRO"),
        s("obj"),
        Value::None,
        s("127.0.0.1"),
        i(9999),
    ]);
    Some(match name {
        "none" => Value::None,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "int_zero" => i(0),
        "int_small" => i(42),
        "int_neg" => i(-7),
        "int_i32_max" => i(2147483647),
        "int_2_31" => i(2147483648),
        "int_i32_min" => i(-2147483648),
        "int_i64_max" => i(i64::MAX),
        "int_i64_min" => i(i64::MIN),
        "int_2_63" => big("9223372036854775808"),
        "big_pos" => big("1267650600228229401496703205376"),
        "big_neg" => big("-1267650600228229401496703205376"),
        "big_10_200" => big(&format!("1{}", "0".repeat(200))),
        "float" => f(1.5),
        "float_tenth" => f(0.1),
        "float_neg_zero" => f(-0.0),
        "float_nan" => f(f64::NAN),
        "float_inf" => f(f64::INFINITY),
        "float_ninf" => f(f64::NEG_INFINITY),
        "float_tiny" => f(5e-324),
        "float_1e16" => f(1e16),
        "float_1e300" => f(1e300),
        "str_empty" => s(""),
        "str_ascii" => s("hello"),
        "str_unicode" => s("h\u{e9}llo \u{20ac}"),
        "str_astral" => s("\u{1F600}x"),
        "str_escapes" => s("a\"b\\c\n\t\u{1}\u{1f}\u{7f}/\u{2028}"),
        "str_long_ascii" => s(&"a".repeat(300)),
        "str_long_unicode" => s(&"\u{e9}".repeat(200)),
        "tuple_empty" | "list_empty" | "set_empty" => list(vec![]),
        "tuple_one" => list(vec![i(1)]),
        "tuple_nested" => list(vec![
            i(1),
            list(vec![s("a"), list(vec![Value::None, Value::Bool(true)])]),
            list(vec![f(2.5)]),
        ]),
        "tuple_300" => list((0..300).map(i).collect()),
        "list_mixed" => list(vec![
            i(1),
            s("two"),
            f(3.0),
            Value::None,
            list(vec![Value::Bool(false)]),
        ]),
        "dict_empty" => dict(vec![]),
        "dict_str_keys" => sdict(vec![
            ("a", i(1)),
            ("b", list(vec![i(1), i(2)])),
            ("c", sdict(vec![("d", Value::None)])),
        ]),
        // Python's json writes non-str keys as strings ({1: ..} and {True: ..} are one key).
        "dict_nonstr_keys" => sdict(vec![
            ("1", s("bool")),
            ("2.5", s("float")),
            ("null", s("none")),
        ]),
        "set_ints" => list(vec![i(1), i(2), i(3)]),
        "set_in_dict" => sdict(vec![("s", list(vec![s("b")]))]),
        "shared_str" => list(vec![s("abc"), s("abc"), s("abc")]),
        "shared_list" => list(vec![list(vec![i(1)]), list(vec![i(1)])]),
        "nested_deep" => nested_list(10, i(1)),
        // Python 3.11's object.__getstate__ returns vars(): no __class__ is sent at all.
        "plain_object" => sdict(vec![("a", i(1)), ("b", s("x"))]),
        "uri" => obj("Pyro4.core.URI", sdict(vec![("state", uri_state)])),
        "uuid" => s("12345678-1234-5678-1234-567812345678"),
        "decimal" => s("1.25"),
        "exc_value_error" => obj(
            "builtins.ValueError",
            sdict(vec![
                ("__exception__", Value::Bool(true)),
                ("args", list(vec![s("bad value"), i(3)])),
                ("attributes", dict(vec![])),
            ]),
        ),
        "exc_wrapper" => obj(
            "Pyro4.futures._ExceptionWrapper",
            sdict(vec![(
                "exception",
                obj(
                    "builtins.ZeroDivisionError",
                    sdict(vec![
                        ("__exception__", Value::Bool(true)),
                        ("args", list(vec![s("division by zero")])),
                        ("attributes", dict(vec![])),
                    ]),
                ),
            )]),
        ),
        "c_lone_surrogate" => s("a\u{FFFD}b"),
        "c_surrogate_pair" => s("\u{1F600}"),
        "c_escapes" => s("\u{e9}/\u{8}\u{c}\"\\"),
        "c_whitespace" => list(vec![i(1), i(2)]),
        "c_dup_keys" => sdict(vec![("a", i(3)), ("b", i(2))]),
        "c_exponent" => list(vec![f(1000.0), f(0.01), i(0), f(25.0), f(f64::INFINITY)]),
        "c_class_only" => obj("some.Thing", dict(vec![])),
        _ => return None,
    })
}

/// Remote exceptions exactly as a Pyro4 daemon sends them with json:
/// `{"__class__": C, "__exception__": true, "args": [...], "attributes": {..., "_pyroTraceback": [...]}}`.
fn check_daemon_exception(name: &str, v: &Value) {
    let (class, args, last_tb_line, extra): (&str, Value, &str, Vec<(&str, Value)>) = match name {
        "daemon_exc_zero" => (
            "builtins.ZeroDivisionError",
            list(vec![s("integer division or modulo by zero")]),
            "ZeroDivisionError: integer division or modulo by zero\n",
            vec![],
        ),
        "daemon_exc_keyerror" => (
            "builtins.KeyError",
            list(vec![s("missing")]),
            "KeyError: 'missing'\n",
            vec![],
        ),
        "daemon_exc_custom" => (
            "fixturemod.MyError",
            list(vec![s("custom failure"), i(42)]),
            "fixturemod.MyError: ('custom failure', 42)\n",
            vec![("code", i(7))],
        ),
        "daemon_exc_mainerr" => (
            "__main__.MainError",
            list(vec![s("from main")]),
            "MainError: from main\n",
            vec![],
        ),
        "daemon_exc_naming" => (
            "Pyro4.errors.NamingError",
            list(vec![s("unknown name: foo")]),
            "Pyro4.errors.NamingError: unknown name: foo\n",
            vec![],
        ),
        _ => panic!("no expectation for fixture {name}"),
    };
    let Value::Object(o) = v else {
        panic!("{name}: not an object: {v:?}")
    };
    assert_eq!(o.class, class);
    let Value::Dict(items) = &o.state else {
        panic!("{name}: state not a dict")
    };
    let keys: Vec<&str> = items.iter().map(|(k, _)| k.as_str().unwrap()).collect();
    assert_eq!(keys, ["__exception__", "args", "attributes"], "{name}");
    assert_strict(
        o.state.dict_get_str("__exception__").unwrap(),
        &Value::Bool(true),
        name,
    );
    assert_strict(o.state.dict_get_str("args").unwrap(), &args, name);
    let attrs = o.state.dict_get_str("attributes").unwrap();
    for (k, want) in &extra {
        assert_strict(attrs.dict_get_str(k).unwrap(), want, name);
    }
    let Some(Value::List(tb)) = attrs.dict_get_str("_pyroTraceback") else {
        panic!("{name}: no _pyroTraceback list")
    };
    assert!(tb.len() >= 3, "{name}");
    assert_strict(&tb[0], &s("Traceback (most recent call last):\n"), name);
    assert_strict(tb.last().unwrap(), &s(last_tb_line), name);
    assert!(tb.iter().all(|l| matches!(l, Value::Str(_))));
}

#[test]
fn golden_payloads_decode_to_expected_values() {
    let rows = load_tsv("tests/fixtures/json/golden.tsv");
    assert!(rows.len() >= 30);
    let mut checked = 0;
    for row in &rows {
        if row.payload.is_empty() {
            // Pyro4 itself refuses these; we refuse them too (see encode_refuses_what_pyro4_refuses).
            assert!(row.desc.starts_with("dumps raises"), "{}", row.name);
            continue;
        }
        let got = json::decode(&row.payload)
            .unwrap_or_else(|e| panic!("{}: decode failed: {}", row.name, e.message));
        if row.name.starts_with("daemon_exc_") {
            check_daemon_exception(&row.name, &got);
        } else {
            let want = expected(&row.name)
                .unwrap_or_else(|| panic!("no expected value for fixture {}", row.name));
            assert_strict(&got, &want, &row.name);
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} golden payloads checked");
}

#[test]
fn reencoding_golden_payloads_is_byte_exact() {
    // Everything Pyro4 itself wrote comes out of our encoder byte for byte (crafted payloads
    // with extra whitespace, escapes or duplicate keys excepted).
    for row in load_tsv("tests/fixtures/json/golden.tsv") {
        if row.payload.is_empty() || row.name.starts_with("c_") {
            continue;
        }
        let v = json::decode(&row.payload).unwrap();
        let again = json::encode(&v).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&row.payload),
            "{}",
            row.name
        );
    }
}

#[test]
fn encode_call_matches_pyro4_dumpscall_bytes() {
    let rows = load_tsv("tests/fixtures/json/calls.tsv");
    let calls: Vec<Call> = vec![
        (
            "obj",
            "method",
            vec![i(1), s("a")],
            vec![("k".into(), i(2))],
        ),
        ("Pyro.Daemon", "get_metadata", vec![], vec![]),
        (
            "thing",
            "m\u{e9}thode",
            vec![
                list(vec![i(1), i(2)]),
                sdict(vec![("x", tuple(vec![Value::None]))]),
                f(2.5),
            ],
            vec![
                ("a".into(), s("b")),
                ("c".into(), list(vec![Value::Bool(true)])),
            ],
        ),
    ];
    assert_eq!(rows.len(), calls.len());
    for (row, (o, m, a, k)) in rows.iter().zip(&calls) {
        let ours = json::encode_call(o, m, a, k).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&row.payload),
            "{}",
            row.name
        );
    }
}

#[test]
fn python_decodes_what_we_encode() {
    let Some(py) = python() else { return };
    let uri = obj(
        "Pyro4.core.URI",
        sdict(vec![(
            "state",
            tuple(vec![
                s("PYRO"),
                s("obj"),
                Value::None,
                s("127.0.0.1"),
                i(9999),
            ]),
        )]),
    );
    let exc = |class: &str, args: Vec<Value>| {
        obj(
            class,
            sdict(vec![
                ("__exception__", Value::Bool(true)),
                ("args", tuple(args)),
                (
                    "attributes",
                    sdict(vec![("_pyroTraceback", list(vec![s("tb\n")]))]),
                ),
            ]),
        )
    };
    let cases: Vec<(Value, &str)> = vec![
        (Value::None, "None"),
        (Value::Bool(true), "True"),
        (i(i64::MIN), "-9223372036854775808"),
        (
            big("-123456789012345678901234567890"),
            "-123456789012345678901234567890",
        ),
        (f(-0.0), "-0.0"),
        (f(f64::NAN), "nan"),
        (f(f64::NEG_INFINITY), "-inf"),
        (f(1e22), "1e+22"),
        (f(0.1 + 0.2), "0.30000000000000004"),
        (
            s("\u{1F600}\u{0}\"\\\u{7f}\u{2028}é"),
            "'😀\\x00\"\\\\\\x7f\\u2028é'",
        ),
        (tuple(vec![i(1), tuple(vec![])]), "[1, []]"),
        (Value::Set(vec![i(3)]), "[3]"),
        (
            dict(vec![
                (Value::Bool(true), i(1)),
                (Value::None, i(2)),
                (f(1.5), i(3)),
                (big("100000000000000000000"), i(4)),
                (i(-1), i(5)),
            ]),
            "{'true': 1, 'null': 2, '1.5': 3, '100000000000000000000': 4, '-1': 5}",
        ),
        (uri, "<Pyro4.core.URI at 0x...; PYRO:obj@127.0.0.1:9999>"),
        (
            exc("builtins.ZeroDivisionError", vec![s("boom")]),
            "ZeroDivisionError('boom')",
        ),
        (
            exc("Pyro4.errors.CommunicationError", vec![]),
            "CommunicationError()",
        ),
        (
            exc("mymod.Custom", vec![]),
            "raises SerializeError: unsupported serialized class: mymod.Custom",
        ),
        (
            list(vec![obj(
                "Pyro4.core.URI",
                tuple(vec![s("PYRO"), s("x"), Value::None, s("h"), i(1)]),
            )]),
            "[<Pyro4.core.URI at 0x...; PYRO:x@h:1>]",
        ),
    ];
    let mut payloads: Vec<(bool, Vec<u8>)> = cases
        .iter()
        .map(|(v, _)| (false, json::encode(v).unwrap()))
        .collect();
    let call = json::encode_call(
        "obj",
        "m",
        &[i(1), tuple(vec![s("t")]), f(f64::INFINITY)],
        &[("k".into(), Value::Set(vec![])), ("é".into(), Value::None)],
    )
    .unwrap();
    payloads.push((true, call));
    let got = python_reprs(&py, "json", &payloads);
    for ((v, want), got) in cases.iter().zip(&got) {
        assert_eq!(got, want, "for {v:?}");
    }
    assert_eq!(
        got.last().unwrap(),
        "('obj', 'm', [1, ['t'], inf], {'k': [], 'é': None})"
    );
}

#[test]
fn python_decodes_our_reencoding_of_every_golden_payload_the_same() {
    let Some(py) = python() else { return };
    let rows: Vec<_> = load_tsv("tests/fixtures/json/golden.tsv")
        .into_iter()
        .filter(|r| !r.payload.is_empty() && r.name != "c_lone_surrogate")
        .collect();
    let payloads: Vec<(bool, Vec<u8>)> = rows
        .iter()
        .map(|r| {
            (
                false,
                json::encode(&json::decode(&r.payload).unwrap()).unwrap(),
            )
        })
        .collect();
    let got = python_reprs(&py, "json", &payloads);
    for (row, got) in rows.iter().zip(got) {
        assert_eq!(got, row.desc, "{}", row.name);
    }
}

#[test]
fn encode_refuses_what_pyro4_refuses() {
    for v in [
        Value::Bytes(vec![1]),
        Value::Complex { re: 1.0, im: 2.0 },
        list(vec![Value::Bytes(vec![])]),
        dict(vec![(tuple(vec![]), i(1))]),
        dict(vec![(Value::Bytes(vec![]), i(1))]),
    ] {
        let e = json::encode(&v).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Serialization, "{v:?}");
        assert!(e.message.starts_with("json: "), "{}", e.message);
    }
    let e = json::encode(&dict(vec![(tuple(vec![]), i(1))])).unwrap_err();
    assert!(e
        .message
        .contains("keys must be str, int, float, bool or None, not tuple"));
    let e = json::encode_call("o", "m", &[Value::Bytes(vec![])], &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Serialization);
}

#[test]
fn encode_depth_is_limited() {
    assert!(json::encode(&nested_list(pyro_async::serial::MAX_DEPTH, i(1))).is_ok());
    let e = json::encode(&nested_list(pyro_async::serial::MAX_DEPTH + 1, i(1))).unwrap_err();
    assert!(e.message.contains("deeper"), "{}", e.message);
}

fn decode_err(data: &[u8]) -> String {
    match json::decode(data) {
        Ok(v) => panic!("{:?} decoded to {v:?}", String::from_utf8_lossy(data)),
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Serialization);
            assert!(e.message.starts_with("json: "), "{}", e.message);
            e.message
        }
    }
}

#[test]
fn bad_input_is_refused_like_python() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "expecting value at byte 0"),
        (b"   ", "expecting value"),
        (b"nul", "expecting value"),
        (b"[1,]", "expecting value at byte 3"),
        (b"[1 2]", "expecting ',' or ']'"),
        (b"{\"a\" 1}", "expecting ':'"),
        (b"{1: 2}", "property name"),
        (b"{\"a\": 1,}", "property name"),
        (b"01", "extra data at byte 1"),
        (b"1.", "extra data"),
        (b"1.e5", "extra data"),
        (b"+1", "expecting value"),
        (b"-", "expecting value"),
        (b".5", "expecting value"),
        (b"[1] x", "extra data at byte 4"),
        (b"nan", "expecting value"),
        (b"-NaN", "expecting value"),
        (b"\"abc", "unterminated string"),
        (b"\"a\\", "unterminated string"),
        (b"\"a\nb\"", "invalid control character"),
        (b"\"\\x41\"", "invalid \\escape"),
        (b"\"\\u12\"", "\\uXXXX"),
        (b"\"\\u12", "\\uXXXX"),
        (b"\"\\ud800\\u12G4\"", "\\uXXXX"),
        (b"\"\xff\"", "invalid UTF-8 at byte 1"),
        (b"\xEF\xBB\xBF1", "BOM"),
        (b"{\"__class__\": 1}", "__class__"),
        (b"'a'", "expecting value"),
    ];
    for (data, want) in cases {
        let msg = decode_err(data);
        assert!(
            msg.contains(want),
            "{:?}: {msg}",
            String::from_utf8_lossy(data)
        );
    }
    // Python's int() digit limit (4300).
    assert!(json::decode("9".repeat(4300).as_bytes()).is_ok());
    assert!(decode_err("9".repeat(4301).as_bytes()).contains("4300"));
    assert!(json::decode(format!("-{}", "9".repeat(4300)).as_bytes()).is_ok());
}

#[test]
fn every_truncation_of_golden_payloads_errors_or_decodes_cleanly() {
    for row in load_tsv("tests/fixtures/json/golden.tsv") {
        for cut in 0..row.payload.len() {
            // A prefix may itself be valid JSON ("12" of "123"); it must never panic.
            let _ = json::decode(&row.payload[..cut]);
        }
    }
    // Containers and strings cut anywhere are errors.
    let full = br#"{"a": [1, "x\u00e9y", {"b": null}], "c": -1.5e3}"#;
    for cut in 0..full.len() {
        assert!(json::decode(&full[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = pyro_async::serial::MAX_DEPTH;
    let ok = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(json::decode(ok.as_bytes()).is_ok());
    let too_deep = format!("{}{}", "[".repeat(depth + 1), "]".repeat(depth + 1));
    assert!(decode_err(too_deep.as_bytes()).contains("nesting deeper than"));
    let huge = "[".repeat(100_000);
    assert!(decode_err(huge.as_bytes()).contains("nesting deeper than"));
    let huge = "{\"a\":".repeat(100_000);
    assert!(decode_err(huge.as_bytes()).contains("nesting deeper than"));
}

#[test]
fn many_duplicate_keys_decode_in_linear_time() {
    let mut text = String::from("{");
    for n in 0..200_000 {
        text.push_str(&format!("\"k{}\": {n}, ", n % 1000));
    }
    text.push_str("\"end\": 0}");
    let v = json::decode(text.as_bytes()).unwrap();
    let Value::Dict(items) = &v else { panic!() };
    assert_eq!(items.len(), 1001);
    assert_strict(
        v.dict_get_str("k999").unwrap(),
        &i(199_999),
        "last value wins",
    );
    assert_strict(&items[0].0, &s("k0"), "first position kept");
}

// ----- round trip -----

/// Values json carries unchanged: no tuples/sets (they come back as lists), str keys only,
/// no bytes/complex, objects with dict state.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<i128>().prop_map(|n| Value::from_bigint(n.into())),
        any::<f64>().prop_map(Value::Float),
        prop_oneof![Just(f64::NAN), Just(-0.0), Just(1e16), Just(5e-324)].prop_map(Value::Float),
        any::<String>().prop_map(Value::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec((any::<String>(), inner.clone()), 0..6).prop_map(|kv| {
                let mut d = Value::Dict(vec![]);
                for (k, v) in kv {
                    if k != "__class__" {
                        d.dict_set(Value::Str(k), v);
                    }
                }
                d
            }),
            (
                "[a-z.]{1,12}",
                prop::collection::vec(("[a-z_]{1,6}", inner), 0..4)
            )
                .prop_map(|(class, kv)| {
                    let mut d = Value::Dict(vec![]);
                    for (k, v) in kv {
                        d.dict_set(Value::Str(k), v);
                    }
                    obj(&class, d)
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn roundtrip(v in json_value()) {
        let bytes = json::encode(&v).unwrap();
        let back = json::decode(&bytes).unwrap();
        prop_assert!(strict_eq(&back, &v), "{:?} -> {:?}", v, back);
    }

    #[test]
    fn tuples_and_sets_come_back_as_lists(items in prop::collection::vec(any::<i64>(), 0..8)) {
        let vals: Vec<Value> = items.into_iter().map(Value::Int).collect();
        for v in [Value::Tuple(vals.clone()), Value::Set(vals.clone())] {
            let back = json::decode(&json::encode(&v).unwrap()).unwrap();
            prop_assert!(strict_eq(&back, &Value::List(vals.clone())));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = json::decode(&data);
    }

    #[test]
    fn mutated_payloads_never_panic(
        idx in 0usize..1000,
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let rows = load_tsv("tests/fixtures/json/golden.tsv");
        let rows: Vec<_> = rows.into_iter().filter(|r| !r.payload.is_empty()).collect();
        let mut data = rows[idx % rows.len()].payload.clone();
        let p = pos.index(data.len());
        data[p] = byte;
        let _ = json::decode(&data);
    }
}

#[test]
fn floats_print_like_python_repr() {
    let Some(py) = python() else { return };
    // Our float text must be what Python's json.dumps writes, for many random floats.
    // splitmix64, deterministic
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next_u64 = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let floats: Vec<f64> = (0..8000)
        .map(|n| {
            let bits = next_u64();
            match n % 4 {
                0 => f64::from_bits(bits),
                1 => (bits % 10_000_000) as f64 / 10f64.powi((bits % 30) as i32),
                // quarters near 2**50..2**53: exact ties between 17-digit strings
                2 => (bits >> 11) as f64 / 4.0,
                _ => (bits as f64) * 10f64.powi((bits % 40) as i32 - 20),
            }
        })
        .filter(|x| x.is_finite())
        .collect();
    let ours =
        String::from_utf8(json::encode(&list(floats.iter().map(|&x| f(x)).collect())).unwrap())
            .unwrap();
    let script = "import sys, json, Pyro4.util; print(Pyro4.util.JsonSerializer().dumps(json.loads(sys.stdin.read())).decode())";
    let mut child = std::process::Command::new(&py)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ours.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let theirs = String::from_utf8(out.stdout).unwrap();
    let theirs = theirs.trim_end();
    for (a, b) in ours.split(", ").zip(theirs.split(", ")) {
        assert_eq!(a, b);
    }
    assert_eq!(theirs, ours);
}
