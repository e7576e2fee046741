"""Median table over the rounds of bench/run.sh, and the issue's targets as ratios.

Reads TSV rows (name, calls, in_flight, calls/s, p50 us, p99 us, cpu us/call), each
prefixed by its round number, from stdin. Every ratio is taken within one round (both
sides measured minutes apart at most) and the median of the per-round ratios is shown:
the machines are noisy, and a slow spell then hits both sides of a ratio.
"""
import statistics
import sys
from collections import defaultdict

rows = defaultdict(list)  # (name, in_flight) -> [(round, calls/s, p50, p99, cpu)]
order = []
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    if len(f) != 8:
        continue
    rnd, name, _calls, inf, rate, p50, p99, cpu = f
    key = (name, inf)
    if key not in rows:
        order.append(key)
    num = lambda x: float(x) if x not in ("-", "") else None
    rows[key].append((int(rnd), num(rate), num(p50), num(p99), num(cpu)))

def med(key, i):
    vals = [r[i] for r in rows.get(key, []) if r[i] is not None]
    return statistics.median(vals) if vals else None

def fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"

nrounds = max((r[0] for v in rows.values() for r in v), default=0)
print(f"median of {nrounds} rounds")
print(f"{'client':<40} {'in flight':>9} {'calls/s':>10} {'p50 us':>8} {'p99 us':>8} {'CPU us/call':>12}")
for key in order:
    name, inf = key
    print(f"{name:<40} {inf:>9} {fmt(med(key, 1)):>10} {fmt(med(key, 2)):>8} {fmt(med(key, 3)):>8} {fmt(med(key, 4), 2 if name.startswith('dispatch') else 1):>12}")

def ratio(a, b, i, invert=False):
    """Median over rounds of a[i]/b[i] (or b/a)."""
    by_round = {r[0]: r for r in rows.get(b, [])}
    rs = []
    for r in rows.get(a, []):
        o = by_round.get(r[0])
        if o and r[i] and o[i]:
            rs.append(o[i] / r[i] if invert else r[i] / o[i])
    return statistics.median(rs) if rs else None

lib16 = ("pyro_async 1 proxy", "16")
here16 = ("pyro_async 1 proxy, reads in dispatch", "16")
sync = ("pyro4-sync", "1")
fut16 = ("pyro4-futureresult", "16")
disp = ("dispatch-microbench", "-")
print()
print("targets (median of per-round ratios):")
checks = [
    ("16 in flight vs FutureResult(16), calls/s", ratio(lib16, fut16, 1), 5.0, "x"),
    ("16 in flight vs Pyro4 sync, calls/s", ratio(lib16, sync, 1), 1.5, "x"),
    ("Pyro4 sync CPU/call / ours (16 in flight)", ratio(lib16, sync, 4, invert=True), 5.0, "x"),
    ("same, replies read in dispatch (opt-in)", ratio(here16, sync, 4, invert=True), 5.0, "x"),
    ("16 in flight, reads in dispatch, vs sync calls/s", ratio(here16, sync, 1), 1.5, "x"),
]
for label, got, want, unit in checks:
    ok = got is not None and got >= want
    print(f"  {label:<46} {fmt(got, 2):>6}{unit}  (target >= {want}{unit}) {'met' if ok else 'MISSED'}")
d = med(disp, 1)
print(f"  {'dispatch micro-benchmark, completions/s':<46} {fmt(d):>10}  (target >= 2,000,000) {'met' if d and d >= 2e6 else 'MISSED'}")
