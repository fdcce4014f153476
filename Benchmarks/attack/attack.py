"""Hostile clients under load (driven by Benchmarks/attack/run; see its header).

One `usher serve --roles gateway` (one event loop on CPU 0, rate limits on, X-Forwarded-For trusted) serves
wrk's legitimate /v/{id}?token=… traffic (10,000 viewers, one address each) on CPU 1. Two phases of the same
length: baseline (wrk alone), then attack (wrk while, from CPU 1 too):
  - stalled bodies: connections that send a GET head declaring a body and never send it;
  - half-sent heads: connections that send part of a head and stop (slowloris);
  - non-reading pipeliners: connections that pipeline GET /healthz as fast as the server takes it and read nothing;
  - a forged-token flood from one address: pipelined GET /v/… with EdDSA tokens whose signature is random, under
    a `kid` that the key set holds (each one costs a 190 µs signature check if it gets that far).
Reported: legitimate req/s and p99 in each phase, their errors and non-302 answers, the server's RSS (sampled
every 100 ms, and VmHWM), the flood's answers by status, and how many attack connections the server still holds
USHER_HEADER_TIMEOUT + 2 s after they opened. Targets (issue #13): attack req/s ≥ 0.8 × baseline, 0 legitimate
errors, peak RSS ≤ 128 MiB, 0 attack connections left open.
"""
import argparse
import base64
import json
import os
import resource
import select
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
HOST = "127.0.0.1"
POLLRDHUP = 0x2000


def log(message):
    print(f"attack: {message}", file=sys.stderr, flush=True)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu1_busy():
    """(busy, total) jiffies of CPU 1, where wrk and the attackers run."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu1 "):
                values = [int(v) for v in line.split()[1:]]
                idle = values[3] + values[4]
                return sum(values) - idle, sum(values)
    return 0, 1


def peer_closed(sock):
    """Whether the server closed or reset this connection, found without reading what it sent."""
    poller = select.poll()
    poller.register(sock, POLLRDHUP)
    return any(events & (POLLRDHUP | select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))


def connect():
    sock = socket.create_connection((HOST, ARGS.edge_port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Pipeliner(threading.Thread):
    """Sends pipelined requests as fast as the server takes them and reads nothing."""

    def __init__(self, stop):
        super().__init__(daemon=True)
        self.stop, self.sent, self.sock = stop, 0, None

    def run(self):
        self.sock = connect()
        self.sock.setblocking(False)
        chunk = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 256
        while not self.stop.is_set():
            try:
                self.sent += self.sock.send(chunk)
            except BlockingIOError:
                poller = select.poll()
                poller.register(self.sock, select.POLLOUT)
                poller.poll(200)
            except OSError:
                return  # the server closed it


class Flood(threading.Thread):
    """Forged EdDSA tokens from one address, `depth` pipelined requests at a time, as fast as answers come."""

    def __init__(self, stop, kid, address, depth):
        super().__init__(daemon=True)
        self.stop, self.kid, self.address, self.depth = stop, kid, address, depth
        self.statuses, self.errors = {}, 0

    def run(self):
        header = b64url(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": self.kid}).encode())
        payload = b64url(json.dumps({"vid": "bench-load-00001", "exp": int(time.time()) + 3600, "aud": "usher"}).encode())
        while not self.stop.is_set():
            try:
                sock = connect()
                sock.settimeout(5)
                while not self.stop.is_set():
                    batch = b"".join(
                        f"GET /v/bench-load-00001?token={header}.{payload}.{b64url(os.urandom(64))} HTTP/1.1\r\n"
                        f"Host: x\r\nX-Forwarded-For: {self.address}\r\n\r\n".encode() for _ in range(self.depth))
                    sock.sendall(batch)
                    received, answers = b"", 0
                    while answers < self.depth:
                        data = sock.recv(65536)
                        if not data:
                            raise ConnectionError("closed")
                        received += data
                        answers = received.count(b"HTTP/1.1 ")
                    for part in received.split(b"HTTP/1.1 ")[1:]:
                        status = part[:3].decode()
                        self.statuses[status] = self.statuses.get(status, 0) + 1
            except OSError:
                self.errors += 1
                time.sleep(0.05)


class Attack:
    """Every attacker at once; `count_open` tells which attack connections the server still holds."""

    def __init__(self):
        self.stop = threading.Event()
        self.held, self.pipeliners, self.floods = [], [], []
        self.opened = None

    def start(self):
        self.pipeliners = [Pipeliner(self.stop) for _ in range(ARGS.pipeliners)]
        self.floods = [Flood(self.stop, "ed-1", "203.0.113.66", ARGS.flood_depth) for _ in range(ARGS.floods)]
        for thread in self.pipeliners + self.floods:
            thread.start()
        for _ in range(ARGS.stalled):
            sock = connect()
            sock.sendall(b"GET /v/bench-load-00001 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
            self.held.append(("stalled body", sock))
        for _ in range(ARGS.half_heads):
            sock = connect()
            sock.sendall(b"GET /v/bench-load-00001 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            self.held.append(("half-sent head", sock))
        self.opened = time.monotonic()  # the deadline counts from the last of them
        return self

    def count_open(self):
        counts = {}
        for kind, sock in self.held:
            if not peer_closed(sock):
                counts[kind] = counts.get(kind, 0) + 1
        for pipeliner in self.pipeliners:
            if pipeliner.sock is not None and not peer_closed(pipeliner.sock):
                counts["non-reading pipeliner"] = counts.get("non-reading pipeliner", 0) + 1
        return counts

    def finish(self):
        self.stop.set()
        for thread in self.pipeliners + self.floods:
            thread.join(timeout=5)
        for sock in [sock for _, sock in self.held] + [p.sock for p in self.pipeliners if p.sock is not None]:
            sock.close()
        statuses = {}
        for flood in self.floods:
            for status, n in flood.statuses.items():
                statuses[status] = statuses.get(status, 0) + n
        return {"flood_statuses": statuses, "pipelined_bytes": sum(p.sent for p in self.pipeliners)}


def wrk(paths, seconds, out_json):
    environment = dict(os.environ, WRK_PATHS=paths, WRK_JSON=out_json, WRK_EXPECT="302")
    return subprocess.Popen(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{ARGS.connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
         "-s", os.path.join(ROOT, "Benchmarks", "load", "paths.lua"), f"http://{HOST}:{ARGS.edge_port}"],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def measure(name, paths, pid, attack=None):
    """One phase of ARGS.seconds: wrk over `paths` (or no legitimate load when None), and the attack, if any,
    started 1 s in, so legitimate connections are established first, as on a server already in use."""
    samples = []
    cpu_before, busy_before = cpu_seconds(pid), cpu1_busy()
    out_json = os.path.join(ARGS.work, f"wrk-{name}.json")
    process = wrk(paths, ARGS.seconds, out_json) if paths else None
    started = time.monotonic()
    open_after = None
    while (process.poll() is None) if process else (time.monotonic() - started < ARGS.seconds):
        samples.append(rss_kib(pid))
        if attack and attack.opened is None and time.monotonic() - started >= 1:
            attack.start()
        if attack and attack.opened and open_after is None and time.monotonic() - attack.opened >= ARGS.header_timeout + 2:
            open_after = attack.count_open()
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    cpu, busy = cpu_seconds(pid) - cpu_before, cpu1_busy()
    result = {"requests": 0, "duration_us": elapsed * 1e6}
    if process:
        with open(os.path.join(ARGS.work, f"wrk-{name}.txt"), "w") as f:
            f.write(process.stdout.read())
        with open(out_json) as f:
            result = json.load(f)
    result["server_cpu_share"] = cpu / elapsed
    result["server_cpu_us_per_request"] = cpu * 1e6 / max(result["requests"], 1)
    result["client_cpu_share"] = (busy[0] - busy_before[0]) / max(busy[1] - busy_before[1], 1)
    result["rss_peak_mib"] = max(samples) / 1024 if samples else 0
    result["open_after_deadline"] = open_after
    if attack:
        result.update(attack.finish())
    return result


def percentile(result, p):
    for point, us in result["latency_us"]["percentiles"]:
        if abs(point - p) < 1e-9:
            return us
    return None


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--usher", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--ids", type=int, default=10000)
    parser.add_argument("--stalled", type=int, default=1000)
    parser.add_argument("--half-heads", type=int, default=1000)
    parser.add_argument("--pipeliners", type=int, default=20)
    parser.add_argument("--floods", type=int, default=2)
    parser.add_argument("--flood-depth", type=int, default=1)
    parser.add_argument("--header-timeout", type=float, default=10)
    parser.add_argument("--edge-port", type=int, default=18480)
    parser.add_argument("--app-port", type=int, default=18481)
    ARGS = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    os.sched_setaffinity(0, {1})
    work = ARGS.work

    log(f"preparing {ARGS.ids} ids and tokens")
    subprocess.run([sys.executable, os.path.join(ROOT, "Benchmarks", "load", "bench.py"), "prepare", work, "--ids", str(ARGS.ids)],
                   check=True, stdout=subprocess.DEVNULL)
    # An Ed25519 key in the set, so a forged EdDSA token costs a real signature check unless it is refused first.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with open(os.path.join(work, "jwks.json")) as f:
        jwks = json.load(f)
    jwks["keys"].append({"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64url(public)})
    with open(os.path.join(work, "jwks.json"), "w") as f:
        json.dump(jwks, f)
    # Every legitimate viewer has an address of its own (198.18.0.0/15, benchmarking space).
    paths = os.path.join(work, "legit-paths.txt")
    with open(os.path.join(work, "usher-paths.txt")) as source, open(paths, "w") as target:
        for i, line in enumerate(source):
            target.write(f"{line.rstrip()}\tX-Forwarded-For: 198.18.{i // 250}.{i % 250 + 1}\n")

    environment = dict(os.environ, USHER_LISTEN=f"{HOST}:{ARGS.edge_port}", USHER_APP_LISTEN=f"{HOST}:{ARGS.app_port}",
                       USHER_EVENT_LOOPS="1", USHER_TOKEN_KEYS=os.path.join(work, "jwks.json"), USHER_RATE_LIMIT_RPS="50",
                       USHER_TRUSTED_PROXY_HEADER="X-Forwarded-For", USHER_HEADER_TIMEOUT=str(ARGS.header_timeout),
                       USHER_SHUTDOWN_GRACE="5s", LOG_LEVEL="error")
    subprocess.run([ARGS.usher, "migrate"], env=environment, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([ARGS.usher, "import", os.path.join(work, "import.jsonl")], env=environment, check=True, stdout=subprocess.DEVNULL)
    server_log = open(os.path.join(work, "usher.log"), "wb")
    server = subprocess.Popen(["taskset", "-c", "0", ARGS.usher, "serve", "--roles", "gateway"], env=environment,
                              stdout=server_log, stderr=server_log, stdin=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                with socket.create_connection((HOST, ARGS.edge_port), timeout=1) as probe:
                    probe.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if probe.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            server_log.flush()
            raise SystemExit("usher did not become ready:\n" + open(os.path.join(work, "usher.log")).read()[-2000:])
        log(f"usher pid {server.pid}; warm-up")
        warm = wrk(paths, 3, os.path.join(work, "wrk-warmup.json"))
        warm.wait()

        log(f"baseline: wrk alone, {ARGS.seconds} s")
        baseline = measure("baseline", paths, server.pid)

        log(f"attack alone: {ARGS.stalled} stalled bodies, {ARGS.half_heads} half-sent heads, {ARGS.pipeliners} non-reading "
            f"pipeliners, {ARGS.floods} forged-token floods from one address, {ARGS.seconds} s")
        alone = measure("attack-alone", None, server.pid, Attack())
        log("attack with wrk")
        attack = measure("attack", paths, server.pid, Attack())
        hwm = rss_kib(server.pid, "VmHWM") / 1024
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()

    summary = {"baseline": baseline, "attack": attack, "alone": alone, "vmhwm_mib": hwm, "pipelined_bytes": attack["pipelined_bytes"],
               "flood_statuses": attack["flood_statuses"], "attack_open_after_deadline": attack["open_after_deadline"] or {},
               "header_timeout": ARGS.header_timeout, "connections": ARGS.connections, "seconds": ARGS.seconds,
               "stalled": ARGS.stalled, "half_heads": ARGS.half_heads, "pipeliners": ARGS.pipeliners, "floods": ARGS.floods,
               "flood_depth": ARGS.flood_depth}
    os.makedirs(ARGS.results, exist_ok=True)
    with open(os.path.join(ARGS.results, "latest.json"), "w") as f:
        json.dump(summary, f, indent=1)
    report(summary, os.path.join(ARGS.results, "latest.md"))
    print(open(os.path.join(ARGS.results, "latest.md")).read())


def flood_rate(r):
    answers = sum(r.get("flood_statuses", {}).values())
    return f"{answers / (r['duration_us'] / 1e6):,.0f}" if answers else "–"


def report(s, path):
    base, attack = s["baseline"], s["attack"]
    def rate(r):
        return r["requests"] / (r["duration_us"] / 1e6)

    def errors(r):
        return sum(r["errors"][kind] for kind in ("connect", "read", "write", "timeout"))

    ratio = rate(attack) / rate(base)
    open_left = sum(s["attack_open_after_deadline"].values())
    peak = max(base["rss_peak_mib"], attack["rss_peak_mib"], s["vmhwm_mib"])
    flood_total = sum(s["flood_statuses"].values())
    lines = [
        "# Hostile clients under load",
        "",
        f"`Benchmarks/attack/run`: `usher serve --roles gateway`, one event loop on CPU 0, rate limits on "
        f"(`USHER_RATE_LIMIT_RPS=50`, per viewer and per client address, `X-Forwarded-For` trusted), "
        f"`USHER_HEADER_TIMEOUT={s['header_timeout']:g}`; wrk `-t1 -c{s['connections']} -d{s['seconds']}s` on CPU 1 over 10,000 "
        f"viewers with an address each; the attackers on CPU 1 too: {s['stalled']} stalled bodies, {s['half_heads']} "
        f"half-sent heads, {s['pipeliners']} non-reading pipeliners, {s['floods']} connections flooding forged EdDSA "
        f"tokens from one address ({s['flood_depth']} in flight on each), all started 1 s into the attack phase.",
        "",
        "| phase | legitimate req/s | p50 | p99 | errors | non-302 | server peak RSS | server CPU (CPU 0) | server CPU µs per legitimate request | CPU 1 busy (wrk + attackers) | forged tokens answered/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    alone = s["alone"]
    for name, r in (("baseline", base), ("attack", attack)):
        lines.append(f"| {name} | {rate(r):,.0f} | {percentile(r, 50) or 0:,.0f} µs | {percentile(r, 99) or 0:,.0f} µs | "
                     f"{errors(r)} | {r.get('unexpected', 0)} | {r['rss_peak_mib']:.0f} MiB | {r['server_cpu_share']:.0%} | "
                     f"{r['server_cpu_us_per_request']:.1f} | {r['client_cpu_share']:.0%} | {flood_rate(r)} |")
    lines.append(f"| attack alone (no wrk) | – | – | – | – | – | {alone['rss_peak_mib']:.0f} MiB | {alone['server_cpu_share']:.0%} | – | "
                 f"{alone['client_cpu_share']:.0%} | {flood_rate(alone)} |")
    lines += [
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| legitimate req/s under attack ≥ 0.8 × baseline | {ratio:.2f} × | {'yes' if ratio >= 0.8 else 'no'} |",
        f"| 0 errors for legitimate clients | {errors(attack)} errors, {attack.get('unexpected', 0)} non-302 | "
        f"{'yes' if errors(attack) == 0 and attack.get('unexpected', 0) == 0 else 'no'} |",
        f"| server peak RSS ≤ 128 MiB | {peak:.0f} MiB (VmHWM {s['vmhwm_mib']:.0f} MiB) | {'yes' if peak <= 128 else 'no'} |",
        f"| attack connections open {s['header_timeout'] + 2:g} s after they opened: 0 | {open_left} "
        f"{json.dumps(s['attack_open_after_deadline'])} | {'yes' if open_left == 0 else 'no'} |",
        "",
        f"The forged-token flood got {flood_total:,} answers ({flood_total / s['seconds']:,.0f}/s): "
        + ", ".join(f"{n:,} × {status}" for status, n in sorted(s["flood_statuses"].items()))
        + f"; the pipeliners' sends stalled after {s['pipelined_bytes'] / 1e6:.1f} MB in all (their own kernel send buffers, "
        "up to 4 MiB each, plus the edge's 64 KiB receive buffer).",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
