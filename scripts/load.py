"""Load check for the daemon: launch latency, list latency under concurrent clients, memory.

Run through scripts/load, which starts moto and a daemon and passes their addresses. Prints a
Markdown table for BENCHMARKS.md. Standard library only.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse


# The daemon's bearer token, read from its token file (never passed on the command line).
TOKEN = ""


def request(base, method, path, body=None):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"content-type": "application/json"} if payload else {}
    headers["authorization"] = f"Bearer {TOKEN}"
    start = time.perf_counter()
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return response.status, data, elapsed


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def rss_mib(pid):
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--bin", required=True, help="the prism binary, for the port-conflict timing")
    parser.add_argument("--token-file", required=True, help="the daemon's token file")
    args = parser.parse_args()
    global TOKEN
    with open(args.token_file, encoding="utf-8") as f:
        TOKEN = f.read().strip()
    base = args.url
    rows = []
    rss_start = rss_mib(args.pid)

    # Launches, one at a time, as a researcher's script would send them.
    launch_times = []
    for i in range(args.workspaces):
        status, data, elapsed = request(
            base, "POST", "/api/v1/instances/launch", {"name": f"load-{i:04d}", "template": "rocky-9-base"}
        )
        if status != 202:
            sys.exit(f"launch {i} answered {status}: {data[:200]!r}")
        launch_times.append(elapsed)
    rows.append(("launch accepted (POST /instances/launch)", len(launch_times), launch_times, None))

    deadline = time.time() + 300
    while time.time() < deadline:
        status, data, _ = request(base, "GET", "/api/v1/instances")
        listed = json.loads(data)
        running = sum(1 for w in listed if w["state"] == "running")
        if running == args.workspaces:
            break
        time.sleep(1)
    else:
        sys.exit(f"only {running} of {args.workspaces} running after 300 s")
    settle = time.time()

    # Concurrent readers of the list for a fixed time.
    def reader(path):
        times = []
        stop = time.time() + args.seconds
        while time.time() < stop:
            status, _, elapsed = request(base, "GET", path)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            times.append(elapsed)
        return times

    for path in ["/api/v1/instances", "/api/v1/daemon/status"]:
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            started = time.perf_counter()
            results = list(pool.map(reader, [path] * args.clients))
            wall = time.perf_counter() - started
        times = [t for r in results for t in r]
        rows.append((f"GET {path} ({args.clients} clients, {args.workspaces} workspaces)", len(times), times, len(times) / wall))

    rss_end = rss_mib(args.pid)

    # How fast a second daemon gives up on a taken port (the issue asks for under a second).
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = f"127.0.0.1:{holder.getsockname()[1]}"
    conflict_times = []
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, PRISM_DATA_DIR=scratch, PRISM_CONFIG_DIR=scratch)
        for _ in range(10):
            started = time.perf_counter()
            done = subprocess.run([args.bin, "daemon", "--listen", taken], env=env, capture_output=True, text=True)
            conflict_times.append(time.perf_counter() - started)
            if done.returncode == 0 or "already in use" not in done.stderr:
                sys.exit(f"unexpected result on a taken port: {done.returncode} {done.stderr}")
    holder.close()
    rows.append(("second daemon on a taken port exits with the error", len(conflict_times), conflict_times, None))
    print(f"| measurement | requests | p50 ms | p99 ms | max ms | req/s |")
    print(f"|---|---|---|---|---|---|")
    for name, count, times, rate in rows:
        rate_text = f"{rate:.0f}" if rate else "-"
        print(
            f"| {name} | {count} | {percentile(times, 50) * 1000:.1f} | {percentile(times, 99) * 1000:.1f} "
            f"| {max(times) * 1000:.1f} | {rate_text} |"
        )
    print()
    print(f"daemon RSS: {rss_start:.1f} MiB at start, {rss_end:.1f} MiB with {args.workspaces} workspaces after the load")


if __name__ == "__main__":
    main()
