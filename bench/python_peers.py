"""Pyro4's own Python clients, measured the same way as bench/bench_calls.c measures
this library: calls/s, p50/p99 latency and client CPU per call, echo of a 64-char str.

Usage: python_peers.py URI CALLS   -> prints one TSV row per client:
    name  calls  in_flight  calls_per_s  p50_us  p99_us  cpu_us_per_call
"""
import sys
import threading
import time

import Pyro4
import Pyro4.futures

PAYLOAD = "x" * 64


def pct(sorted_lat, p):
    if not sorted_lat:
        return 0.0
    return sorted_lat[min(len(sorted_lat) - 1, int(len(sorted_lat) * p))]


def row(name, calls, in_flight, wall, cpu, lat):
    lat.sort()
    print("%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.1f" % (
        name, calls, in_flight, calls / wall, pct(lat, 0.50) * 1e6, pct(lat, 0.99) * 1e6, cpu / calls * 1e6),
        flush=True)


def sync_proxy(uri, calls):
    with Pyro4.Proxy(uri) as p:
        p.echo(PAYLOAD)  # connect + handshake outside the timing
        lat = []
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            s = time.perf_counter()
            p.echo(PAYLOAD)
            lat.append(time.perf_counter() - s)
        row("pyro4-sync", calls, 1, time.perf_counter() - t0, time.process_time() - c0, lat)


def future_proxy(uri, calls, in_flight):
    """Pyro4's async proxy (FutureResult): keep `in_flight` calls outstanding."""
    ap = Pyro4.Proxy(uri)
    ap._pyroAsync(True)
    lat = []
    lock = threading.Lock()
    sem = threading.Semaphore(in_flight)
    done = threading.Event()
    finished = [0]

    def make_cb(start):
        def cb(_):
            with lock:
                lat.append(time.perf_counter() - start)
                finished[0] += 1
                if finished[0] == calls:
                    done.set()
            sem.release()
            return _
        return cb

    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        sem.acquire()
        ap.echo(PAYLOAD).then(make_cb(time.perf_counter()))
    done.wait(300)
    row("pyro4-futureresult", calls, in_flight, time.perf_counter() - t0, time.process_time() - c0, lat)


if __name__ == "__main__":
    uri, calls = sys.argv[1], int(sys.argv[2])
    sync_proxy(uri, calls)
    for n in (1, 16):
        future_proxy(uri, max(200, calls // 4), n)
