#!/usr/bin/env python3
"""Write golden fixtures for the json (id 2) and marshal (id 3) serializers.

Every payload is produced by real Pyro4 4.82 on Python 3.11:
  - values: Pyro4.util.JsonSerializer().dumps(v) / MarshalSerializer().dumps(v)
  - calls: .dumpsCall(obj, method, vargs, kwargs)
  - exceptions: captured from a live Pyro4 daemon's error reply (the raw bytes the client's
    serializer receives), so `_pyroTraceback` is exactly what a daemon sends.
A few hand-written payloads (marked "crafted") cover input Python's decoder accepts but
Pyro4's encoder never writes (lone surrogates, old marshal codes, references).

Output: tests/fixtures/{json,marshal}/golden.tsv and calls.tsv, lines of
    name <TAB> hex payload <TAB> repr of the value Pyro4's own loads() gives (or an error)
Usage: .venv/bin/python scripts/gen_json_marshal_fixtures.py
"""
import decimal
import os
import re
import sys
import threading
import uuid

import Pyro4
import Pyro4.core
import Pyro4.errors
import Pyro4.futures
import Pyro4.util

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
J = Pyro4.util.JsonSerializer()
M = Pyro4.util.MarshalSerializer()


class Plain(object):
    def __init__(self):
        self.a = 1
        self.b = "x"


class MyError(Exception):
    pass


MyError.__module__ = "fixturemod"   # a module name without '__', like a real server's module


class MainError(Exception):
    pass                            # stays __main__.MainError: Pyro4's client refuses it


class Thrower(object):
    @Pyro4.expose
    def zero(self):
        return 1 // 0

    @Pyro4.expose
    def custom(self):
        e = MyError("custom failure", 42)
        e.code = 7
        raise e

    @Pyro4.expose
    def mainerr(self):
        raise MainError("from main")

    @Pyro4.expose
    def naming(self):
        raise Pyro4.errors.NamingError("unknown name: foo")

    @Pyro4.expose
    def keyerror(self):
        return {}["missing"]


def daemon_error_replies(serializer_name):
    """The raw payload bytes of a daemon's error reply for each Thrower method."""
    Pyro4.config.SERIALIZERS_ACCEPTED = {"json", "marshal", "serpent"}
    daemon = Pyro4.Daemon(host="127.0.0.1", port=0)
    uri = daemon.register(Thrower(), "thrower")
    t = threading.Thread(target=daemon.requestLoop, daemon=True)
    t.start()
    captured = []
    cls = type(J) if serializer_name == "json" else type(M)
    orig = cls.loads

    def spy(self, data):
        captured.append(bytes(data))
        return orig(self, data)

    cls.loads = spy
    out = {}
    try:
        Pyro4.config.SERIALIZER = serializer_name
        with Pyro4.Proxy(uri) as p:
            for meth in ("zero", "custom", "mainerr", "naming", "keyerror"):
                captured.clear()
                try:
                    getattr(p, meth)()
                except BaseException as e:  # noqa: B902 - we want whatever the client raises
                    out[meth] = captured[-1]
    finally:
        cls.loads = orig
        daemon.shutdown()
        t.join(5)
    return out


def loads_repr(ser, data):
    try:
        return repr(ser.loads(data))
    except Exception as e:
        return "raises %s: %s" % (type(e).__name__, e)


def clean(text):
    text = re.sub(r" at 0x[0-9a-f]+", " at 0x...", text)
    return text.replace("\t", "\\t").replace("\n", "\\n")


def values():
    shared = [1]
    uri = Pyro4.core.URI("PYRO:obj@127.0.0.1:9999")
    return [
        ("none", None),
        ("true", True),
        ("false", False),
        ("int_zero", 0),
        ("int_small", 42),
        ("int_neg", -7),
        ("int_i32_max", 2**31 - 1),
        ("int_2_31", 2**31),
        ("int_i32_min", -2**31),
        ("int_i64_max", 2**63 - 1),
        ("int_i64_min", -2**63),
        ("int_2_63", 2**63),
        ("big_pos", 2**100),
        ("big_neg", -2**100),
        ("big_10_200", 10**200),
        ("float", 1.5),
        ("float_tenth", 0.1),
        ("float_neg_zero", -0.0),
        ("float_nan", float("nan")),
        ("float_inf", float("inf")),
        ("float_ninf", float("-inf")),
        ("float_tiny", 5e-324),
        ("float_1e16", 1e16),
        ("float_1e300", 1e300),
        ("complex", complex(1.5, -2.0)),
        ("str_empty", ""),
        ("str_ascii", "hello"),
        ("str_unicode", "h\u00e9llo \u20ac"),
        ("str_astral", "\U0001F600x"),
        ("str_escapes", 'a"b\\c\n\t\x01\x1f\x7f/\u2028'),
        ("str_long_ascii", "a" * 300),
        ("str_long_unicode", "\u00e9" * 200),
        ("bytes_empty", b""),
        ("bytes", b"\x00\x01\xffabc"),
        ("bytearray", bytearray(b"xy")),
        ("tuple_empty", ()),
        ("tuple_one", (1,)),
        ("tuple_nested", (1, ("a", (None, True)), [2.5])),
        ("tuple_300", tuple(range(300))),
        ("list_empty", []),
        ("list_mixed", [1, "two", 3.0, None, [False]]),
        ("dict_empty", {}),
        ("dict_str_keys", {"a": 1, "b": [1, 2], "c": {"d": None}}),
        ("dict_nonstr_keys", {1: "int", 2.5: "float", True: "bool", None: "none"}),
        ("dict_tuple_key", {(1, "a"): "tuple"}),
        ("set_ints", {1, 2, 3}),
        ("set_empty", set()),
        ("frozenset", frozenset(["x"])),
        ("set_in_dict", {"s": {"b"}}),
        ("shared_str", ["abc", "abc", "abc"]),
        ("shared_list", [shared, shared]),
        ("nested_deep", [[[[[[[[[[1]]]]]]]]]]),
        ("plain_object", Plain()),
        ("uri", uri),
        ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
        ("decimal", decimal.Decimal("1.25")),
        ("exc_value_error", ValueError("bad value", 3)),
        ("exc_wrapper", Pyro4.futures._ExceptionWrapper(ZeroDivisionError("division by zero"))),
    ]


def crafted():
    """Payloads Python's loads() accepts that Pyro4's dumps() does not write."""
    return {
        "json": [
            ("c_lone_surrogate", b'"a\\ud800b"'),
            ("c_surrogate_pair", b'"\\ud83d\\ude00"'),
            ("c_escapes", b'"\\u00e9\\/\\b\\f\\"\\\\"'),
            ("c_whitespace", b' \t\r\n[ 1 ,\n2 ] \n'),
            ("c_dup_keys", b'{"a": 1, "b": 2, "a": 3}'),
            ("c_exponent", b'[1e3, 1E-2, -0, 2.5e+1, 1e400]'),
            ("c_class_only", b'{"__class__": "some.Thing"}'),
        ],
        "marshal": [
            ("c_old_float", b"f\x04-1.5"),
            ("c_old_complex", b"x\x031.0\x032.0"),
            ("c_int64", b"I" + (5).to_bytes(8, "little")),
            ("c_ref_scalar", b"[\x02\x00\x00\x00\xe9\x07\x00\x00\x00r\x00\x00\x00\x00"),
            ("c_interned", b"t\x02\x00\x00\x00hi"),
            ("c_ascii_latin1", b"a\x02\x00\x00\x00\xe9x"),
            ("c_lone_surrogate", b"u\x03\x00\x00\x00\xed\xa0\x80"),
            ("c_dict_null_value", b"{i\x01\x00\x00\x000"),
            ("c_dup_keys", b"{i\x01\x00\x00\x00Ng\x00\x00\x00\x00\x00\x00\xf0?T0"),
            ("c_trailing", b"Nxyz"),
            ("c_long_neg", b"l\xff\xff\xff\xff\x05\x00"),
        ],
    }


def write(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("# generated by scripts/gen_json_marshal_fixtures.py with Pyro4 %s, Python %s\n"
                % (Pyro4.__version__, sys.version.split()[0]))
        f.write("# name<TAB>payload hex<TAB>Pyro4's own loads() result (repr) or error\n")
        for name, payload, desc in rows:
            f.write("%s\t%s\t%s\n" % (name, payload.hex(), clean(desc)))


def main():
    for fmt, ser in (("json", J), ("marshal", M)):
        rows = []
        for name, v in values():
            try:
                payload = ser.dumps(v)
            except Exception as e:
                rows.append((name, b"", "dumps raises %s: %s" % (type(e).__name__, e)))
                continue
            rows.append((name, payload, loads_repr(ser, payload)))
        for name, payload in crafted()[fmt]:
            rows.append((name, payload, loads_repr(ser, payload)))
        # What loads() returns here (the exception object, or the error it raises) is what the
        # proxy would then raise.
        for meth, payload in sorted(daemon_error_replies(fmt).items()):
            rows.append(("daemon_exc_" + meth, payload, loads_repr(ser, payload)))
        write(os.path.join(ROOT, "tests", "fixtures", fmt, "golden.tsv"), rows)

        calls = [
            ("call_simple", ("obj", "method", (1, "a"), {"k": 2})),
            ("call_empty", ("Pyro.Daemon", "get_metadata", (), {})),
            ("call_nested", ("thing", "m\u00e9thode", ([1, 2], {"x": (None,)}, 2.5), {"a": "b", "c": [True]})),
        ]
        rows = []
        for name, (obj, method, vargs, kwargs) in calls:
            payload = ser.dumpsCall(obj, method, vargs, kwargs)
            rows.append((name, payload, repr(ser.loadsCall(payload))))
        write(os.path.join(ROOT, "tests", "fixtures", fmt, "calls.tsv"), rows)
    print("fixtures written")


if __name__ == "__main__":
    main()
