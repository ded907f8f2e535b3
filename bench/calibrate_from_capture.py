#!/usr/bin/env python3
"""Figures the simulator's model (src/simulate/model.rs) takes from a real
`wrangler tail --format json` capture of the proxy-fetch experiment.

Usage: python3 bench/calibrate_from_capture.py PATH/TO/tail-logs.jsonl

The capture is a stream of pretty-printed JSON objects; exact duplicate events
(wrangler prints some twice) are counted once. Standard library only.
"""
import json
import re
import statistics
import sys

REQ_ID = re.compile(r'"reqId"\s*:\s*"([^"]+)"')


def events(path):
    text = open(path, encoding="utf-8").read()
    dec, i, seen, out = json.JSONDecoder(), 0, set(), []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return sorted(out, key=lambda e: e["eventTimestamp"])
        obj, i = dec.raw_decode(text, i)
        key = json.dumps(obj, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(obj)


def log_text(e):
    """The log messages as text; JSON strings are searched as written."""
    return "\n".join(m if isinstance(m, str) else json.dumps(m)
                     for entry in e.get("logs", []) for m in entry.get("message", []))


def method(e):
    return e.get("event", {}).get("rpcMethod")


def line(name, values, unit="ms"):
    values = list(values)
    if not values:
        print(f"{name}: none")
        return
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    print(f"{name}: n={len(values)} mean={statistics.mean(values):.2f} "
          f"median={statistics.median(values):.2f} sd={sd:.2f} "
          f"min={min(values)} max={max(values)} {unit}")


def main(path):
    evs = events(path)
    print(f"events (duplicates dropped): {len(evs)}")
    origin = [e for e in evs if e.get("entrypoint") == "OriginDO"]
    direct = [e for e in origin if method(e) == "fetchDirect"]
    chain_start = [e for e in origin if method(e) == "startProxyFetchChain"]
    merged = [e for e in origin if method(e) == "__executeOperation"]
    executor = [e for e in evs if e.get("entrypoint") == "FetchExecutorEntrypoint"]
    proxied_origin = chain_start + merged

    line("direct: fetchDirect DO wall (1000 ms endpoint)", [e["wallTime"] for e in direct])
    line("direct: wall minus the 1000 ms delay", [e["wallTime"] - 1000 for e in direct])
    line("direct: DO CPU", [e["cpuTime"] for e in direct])
    line("proxied: origin DO legs wall, per leg", [e["wallTime"] for e in proxied_origin])
    line("proxied: origin DO legs CPU, per leg", [e["cpuTime"] for e in proxied_origin])
    total = sum(e["wallTime"] for e in proxied_origin)
    print(f"proxied: origin DO wall per proxied request: {total} ms / {len(executor)} "
          f"requests = {total / max(len(executor), 1):.2f} ms")
    line("proxied: chain start legs (dispatch only) wall", [e["wallTime"] for e in chain_start])
    line("proxied: chain start legs CPU", [e["cpuTime"] for e in chain_start])
    ends = [e for e in merged if not REQ_ID.search(log_text(e))]
    line("proxied: chain end legs (callback only) wall", [e["wallTime"] for e in ends])
    line("executor: CPU per invocation", [e["cpuTime"] for e in executor])
    line("executor: wall per invocation", [e["wallTime"] for e in executor])

    # Origin leg → executor start: the leg that names the executor's reqId.
    by_id = {}
    for e in proxied_origin:
        m = REQ_ID.search(log_text(e))
        if m:
            by_id.setdefault(m.group(1), e)
    warm, cold = [], []
    warm_cpu, cold_cpu = [], []
    for x in executor:
        m = REQ_ID.search(log_text(x))
        o = by_id.get(m.group(1)) if m else None
        if o is None:
            continue
        gap = x["eventTimestamp"] - o["eventTimestamp"]
        first = method(o) == "startProxyFetchChain"
        (cold if first else warm).append(gap)
        (cold_cpu if first else warm_cpu).append(x["cpuTime"])
    line("origin leg start -> executor start, within a chain", warm)
    line("origin leg start -> executor start, first of a chain", cold)
    line("executor CPU, within a chain", warm_cpu)
    line("executor CPU, first of a chain", cold_cpu)

    # Executor start → the next origin leg (its callback) start, minus the delay.
    starts = sorted(e["eventTimestamp"] for e in proxied_origin)
    back = []
    for x in executor:
        later = [t for t in starts if t > x["eventTimestamp"]]
        if later:
            back.append(later[0] - x["eventTimestamp"] - 1000)
    line("executor start -> callback leg start, minus the 1000 ms delay", back)
    # Executor end against its callback's end: what the executor waits after it.
    tail = []
    for x in executor:
        end = x["eventTimestamp"] + x["wallTime"]
        later = [e for e in proxied_origin if e["eventTimestamp"] > x["eventTimestamp"]]
        if later:
            cb = min(later, key=lambda e: e["eventTimestamp"])
            tail.append(end - (cb["eventTimestamp"] + cb["wallTime"]))
    line("executor end minus its callback leg's end", tail)

    colos = sorted({e["event"]["request"]["cf"]["colo"] for e in evs
                    if "cf" in e.get("event", {}).get("request", {})})
    rtt = [e["event"]["request"]["cf"].get("clientTcpRtt") for e in evs
           if "cf" in e.get("event", {}).get("request", {})]
    print(f"colos: {colos}; clientTcpRtt: {sorted(r for r in rtt if r is not None)} ms")
    versions = sorted({e.get("scriptVersion", {}).get("id", "") for e in evs})
    outcomes = sorted({e.get("outcome") for e in evs})
    print(f"script versions: {len(versions)}; outcomes: {outcomes}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: calibrate_from_capture.py CAPTURE")
    main(sys.argv[1])
