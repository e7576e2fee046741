"""Payload benchmark: time per call of large replies, this library (bench/bench_payloads.c,
through the C API) next to Pyro4's own Python client (a Pyro4.Proxy per serializer),
against the same real Pyro4 4.82 server (bench/payload_server.py, thread server on a
free 127.0.0.1 port), in one run. Prints one table; never asserts.

    payloads.py --lib build/bench/bench_payloads [--reps 5] [--budget 6] [--cap 60]
                [--serializers serpent,json,marshal,pickle] [--payloads dict_10k,...]
    payloads.py client URI SERIALIZER METHOD REPS BUDGET_S     (the Python side of one row)

Each row is one payload and one serializer. The server builds the payload and
serializes its reply once, before the row (prepare), and sends those cached bytes, so
a call's time is request + transfer + the client's decode into its values. Each client
runs in its own process: connect and a warm-up `ping()` call untimed, then up to REPS
calls one at a time (stopping early once BUDGET_S seconds were spent, at least one
call); the median is shown. A client still busy after CAP seconds on a row is killed
and the row shows '> CAP s'. The scaling column is t(10x payload) / t(payload) for the
int->int dicts (10k -> 100k -> 1M); linear is 10x, the goal is at most 12x.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PAYLOADS = [
    ("dict_10k", "dict 10k int->int"),
    ("dict_100k", "dict 100k int->int"),
    ("dict_1m", "dict 1M int->int"),
    ("list_1m", "list 1M ints"),
    ("records_100k", "list 100k records"),
    ("bytes_10m", "bytes 10 MiB"),
    ("str_10m", "str 10 MiB"),
]
SCALES_FROM = {"dict_100k": "dict_10k", "dict_1m": "dict_100k"}
SERIALIZERS = ["serpent", "json", "marshal", "pickle"]
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))


def python_client(uri, serializer, method, reps, budget):
    import Pyro4

    Pyro4.config.SERIALIZER = serializer
    with Pyro4.Proxy(uri) as p:
        p.ping()  # connect + handshake + metadata, untimed
        spent, i = 0.0, 0
        kind = size = None
        while i < reps and (i == 0 or spent < budget):
            t0 = time.perf_counter()
            r = getattr(p, method)()
            t = time.perf_counter() - t0
            kind, size = type(r).__name__, len(r)
            del r  # freeing the result stays outside the timing, as in the C client
            print("call %.6f" % t, flush=True)
            spent += t
            i += 1
        print("result %s %d" % (kind, size), flush=True)


class Measured:
    """One client's outcome on one row."""

    def __init__(self, times, result, timed_out, error):
        self.times, self.result, self.timed_out, self.error = times, result, timed_out, error

    @property
    def median(self):
        return statistics.median(self.times) if self.times else None


def measure(cmd, cap):
    """Run one client process; collect its `call` lines, kill it after `cap` seconds."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        timed_out = False
        try:
            proc.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            timed_out = True
        out.seek(0)
        err.seek(0)
        times, result = [], None
        for line in out:
            f = line.split()
            if f and f[0] == "call":
                times.append(float(f[1]))
            elif f and f[0] == "result":
                result = (f[1], int(f[2]))
        error = None
        if not timed_out and proc.returncode != 0:
            error = (err.read().strip().splitlines() or ["exit status %d" % proc.returncode])[-1]
        # A call that outlived the cap is not in `times`: the row is '> cap'.
        return Measured(times if not timed_out else [], result, timed_out, error)


def start_server(python):
    proc = subprocess.Popen([python, os.path.join(HERE, "payload_server.py")], stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        sys.exit("payload server did not start: %r" % line)
    uri = line.split()[1]
    if "@127.0.0.1:" not in uri:
        proc.kill()
        sys.exit("payload server is not on loopback: %s" % uri)
    return proc, uri


def fmt_ms(m, cap):
    if m.timed_out:
        return "> %g s" % cap
    if m.error:
        return "error"
    return "%.1f" % (m.median * 1e3)


def fmt_scale(cur, prev, cap):
    """t(cur) / t(prev) as text, a lower bound when cur timed out."""
    if prev is None or prev.median is None or cur.error:
        return "-"
    if cur.timed_out:
        return "> %.1fx" % (cap / prev.median)
    if cur.median is None:
        return "-"
    s = cur.median / prev.median
    return "%.1fx%s" % (s, "" if s <= 12 else " !")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, help="the bench_payloads binary")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--budget", type=float, default=6.0, help="seconds per client and row before stopping early")
    ap.add_argument("--cap", type=float, default=30.0, help="seconds per client and row before killing it")
    ap.add_argument("--serializers", default=",".join(SERIALIZERS))
    ap.add_argument("--payloads", default=",".join(p for p, _ in PAYLOADS))
    a = ap.parse_args()
    sers = a.serializers.split(",")
    wanted = a.payloads.split(",")
    rows = [(p, label) for p, label in PAYLOADS if p in wanted]

    import Pyro4

    python = sys.executable
    server, uri = start_server(python)
    t_start = time.time()
    results = {}  # (payload, serializer) -> (reply bytes or reason, lib Measured, py Measured, max msg)
    try:
        control = Pyro4.Proxy(uri)
        for p, label in rows:
            for s in sers:
                prepared = control.prepare(p, s)
                if isinstance(prepared, str):
                    prepared = prepared.split(". ")[0]
                    results[(p, s)] = (prepared, None, None, None)
                    print("%-14s %-8s n/a: %s" % (p, s, prepared), file=sys.stderr, flush=True)
                    continue
                max_msg = None
                if prepared + 1024 > DEFAULT_MAX_MESSAGE_SIZE:
                    max_msg = 2 * prepared
                args = [uri, s, p, str(a.reps), str(a.budget)]
                lib = measure([a.lib] + args + ([str(max_msg)] if max_msg else []), a.cap)
                py = measure([python, os.path.abspath(__file__), "client"] + args, a.cap)
                results[(p, s)] = (prepared, lib, py, max_msg)
                print("%-14s %-8s %8.2f MB  pyro_async %s ms (n=%d)  python %s ms (n=%d)%s" % (
                    p, s, prepared / 1e6, fmt_ms(lib, a.cap), len(lib.times), fmt_ms(py, a.cap), len(py.times),
                    "".join("  [%s: %s]" % (n, m.error) for n, m in (("lib", lib), ("py", py)) if m.error)),
                    file=sys.stderr, flush=True)
        control._pyroRelease()
    finally:
        server.kill()
        server.wait()
    elapsed = time.time() - t_start

    print("Payload benchmark: Pyro4 4.82 thread server on 127.0.0.1, replies serialized once and cached on")
    print("the server (times are request + transfer + client decode), one call at a time, median of up to")
    print("%d calls per client (fewer once %g s were spent); '> %g s': killed at the per-row cap." % (
        a.reps, a.budget, a.cap))
    print("ratio = pyro_async / Python client (<= 1 is the goal); scaling = t(10x payload) / t(payload),")
    print("linear is 10x, '!' marks more than 12x.")
    print()
    hdr = ("payload", "serializer", "reply MB", "pyro_async ms", "Python ms", "ratio", "scaling lib", "scaling py")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join("---" for _ in hdr) + "|")
    notes = []
    for p, label in rows:
        for s in sers:
            prepared, lib, py, max_msg = results[(p, s)]
            if lib is None:
                print("| %s | %s | n/a | n/a | n/a | | | |" % (label, s))
                notes.append("%s / %s: the server cannot serialize it (%s)" % (label, s, prepared))
                continue
            if lib.median is not None and py.median is not None:
                ratio = "%.2f" % (lib.median / py.median)
            elif lib.timed_out and py.median is not None:
                ratio = "> %.1f" % (a.cap / py.median)
            elif py.timed_out and lib.median is not None:
                ratio = "< %.2f" % (lib.median / a.cap)
            else:
                ratio = "-"
            prev = results.get((SCALES_FROM.get(p), s))
            sl = fmt_scale(lib, prev[1], a.cap) if prev and prev[1] else ""
            sp = fmt_scale(py, prev[2], a.cap) if prev and prev[2] else ""
            print("| %s | %s | %.1f | %s | %s | %s | %s | %s |" % (
                label, s, prepared / 1e6, fmt_ms(lib, a.cap), fmt_ms(py, a.cap), ratio, sl, sp))
            for name, m in (("pyro_async", lib), ("Python client", py)):
                if m.error:
                    notes.append("%s / %s, %s: %s" % (label, s, name, m.error))
            if max_msg:
                notes.append("%s / %s: max_message_size raised to %d" % (label, s, max_msg))
            if lib.result and py.result and lib.result != py.result:
                notes.append("%s / %s: results differ: pyro_async %s %d, Python %s %d" % (
                    (label, s) + lib.result + py.result))
    print()
    print("whole run %.0f s" % elapsed)
    print("note: serpent carries bytes as a dict {'data': base64 str, 'encoding': 'base64'}; both clients")
    print("      return that dict (reply MB is the base64 text); json turns the int keys into str keys;")
    print("      json cannot carry bytes in Pyro4 (n/a). Every reply is below the library's default")
    print("      max_message_size (64 MiB) unless a note below says it was raised.")
    for n in notes:
        print("note: " + n)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        uri, ser, method, reps, budget = sys.argv[2:7]
        python_client(uri, ser, method, int(reps), float(budget))
    else:
        main()
