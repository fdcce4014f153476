"""Fault injection under load (driven by Benchmarks/faults/run; see its header).

A gateway (`usher serve --roles gateway,webhook`, in-process cache off so every request reaches Redis or Postgres)
and a worker (`--roles worker`) run against the local stack while wrk drives /v/{id}?token=… over ids imported
beforehand and a sender delivers signed fal webhooks (retrying 503s and refused connections, as fal does).
Phases, in order: baseline, Redis down, PostgreSQL down, worker SIGKILLed mid-work, gateway SIGTERMed. Each
records wrk's requests and errors, non-302 answers, the webhooks' answers, and the recovery time after the fault
ends. At the end every webhook must have been accepted, and every accepted generation COMPLETED with its object
in the bucket: nothing lost.
"""
import argparse
import base64
import collections
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import boto3
import jwt
from botocore.client import Config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
STACK = os.path.join(ROOT, "deploy", "local", "stack")
HOST = "127.0.0.1"


def log(message):
    print(f"faults: {message}", file=sys.stderr, flush=True)


def http(method, url, body=None, headers=None, timeout=5):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None, b""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_without_redirect(url):
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=2) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


class Usher:
    """One usher process; `stop` sends a signal and reports how it ended."""

    def __init__(self, binary, roles, environment, log_path):
        self.binary, self.roles, self.environment, self.log_path = binary, roles, environment, log_path
        self.process = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen([self.binary, "serve", "--roles", self.roles], env=self.environment,
                                        stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)

    def log_tail(self, count):
        """The last `count` lines of its log."""
        with open(self.log_path, "rb") as log_file:
            return log_file.read().decode(errors="replace").strip().splitlines()[-count:]

    def signal(self, number, wait=30):
        started = time.monotonic()
        early = self.process.poll()
        if early is not None:
            # It died before the fault: a finding, with the end of its log to say why.
            self.log.close()
            raise SystemExit(f"faults: usher --roles {self.roles} had exited ({early}) before signal {number}:\n"
                             + "\n".join(self.log_tail(5)))
        self.process.send_signal(number)
        try:
            code = self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.log.close()
        return code, time.monotonic() - started


class FalStandIn(threading.Thread):
    """fal.media on loopback: one small file per path (the mirror streams it into the bucket)."""

    def __init__(self, port, size):
        super().__init__(daemon=True)
        import http.server

        payload = bytes(random.Random(7).getrandbits(8) for _ in range(size))

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, port), Handler)
        self.payload = payload

    def run(self):
        self.server.serve_forever()


class WebhookSender(threading.Thread):
    """Sends one signed webhook every `interval` for a new request id; keeps retrying any that got no 200."""

    def __init__(self, app_port, fal_port, key, prefix, interval):
        super().__init__(daemon=True)
        self.app, self.fal_port, self.key, self.prefix, self.interval = f"http://{HOST}:{app_port}", fal_port, key, prefix, interval
        self.sending = True
        self.sent, self.accepted, self.pending = [], set(), collections.deque()
        self.answers = collections.Counter()
        self.lock = threading.Lock()

    def deliver(self, request_id):
        body = json.dumps({"request_id": request_id, "gateway_request_id": request_id, "status": "OK",
                           "payload": {"video": {"url": f"http://{HOST}:{self.fal_port}/{request_id}.mp4",
                                                 "content_type": "video/mp4"}}}).encode()
        timestamp = str(int(time.time()))
        message = "\n".join([request_id, "fault-user", timestamp, hashlib.sha256(body).hexdigest()]).encode()
        status, _ = http("POST", f"{self.app}/webhooks/fal", body, {
            "Content-Type": "application/json", "X-Fal-Webhook-Request-Id": request_id, "X-Fal-Webhook-User-Id": "fault-user",
            "X-Fal-Webhook-Timestamp": timestamp, "X-Fal-Webhook-Signature": self.key.sign(message).hex()}, timeout=3)
        with self.lock:
            self.answers[str(status)] += 1
            if status == 200:
                self.accepted.add(request_id)
            else:
                self.pending.append(request_id)

    def take_answers(self):
        with self.lock:
            answers, self.answers = dict(self.answers), collections.Counter()
        return answers

    def run(self):
        number = 0
        while self.sending:
            request_id = f"{self.prefix}-{number:05d}"
            number += 1
            self.sent.append(request_id)
            self.deliver(request_id)
            # fal retries what failed; here one retry per new webhook, oldest first.
            with self.lock:
                retry = self.pending.popleft() if self.pending else None
            if retry:
                self.deliver(retry)
            time.sleep(self.interval)

    def drain(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                retry = self.pending.popleft() if self.pending else None
            if retry is None:
                return True
            self.deliver(retry)
        return not self.pending


def wrk(port, paths, duration, out_json, connections):
    environment = dict(os.environ, WRK_PATHS=paths, WRK_JSON=out_json, WRK_EXPECT="302")
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s",
                             os.path.join(ROOT, "Benchmarks", "load", "paths.lua"), f"http://{HOST}:{port}"],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until(condition, seconds, step=0.05):
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(step)
    return None


REDIS_FAILOVER = "redis master SIGKILL"
CLUSTER = os.path.join(ROOT, "deploy", "local", "redis-cluster")


def seed_ports(url):
    """`redis://127.0.0.1:7001/0,…` → ["7001", …]."""
    return [seed.rsplit(":", 1)[1].split("/")[0] for seed in url.split(",")]


def master_port(url, slot, exclude=None):
    """The port of the live master owning `slot`, from CLUSTER NODES of the first seed that answers."""
    for port in seed_ports(url):
        nodes = subprocess.run(["redis-cli", "-p", port, "cluster", "nodes"], capture_output=True, text=True).stdout
        if not nodes.strip():
            continue
        for line in nodes.splitlines():
            fields = line.split()
            if len(fields) < 9 or "master" not in fields[2] or "fail" in fields[2]:
                continue
            owner = fields[1].split("@")[0].rsplit(":", 1)[1]
            for part in fields[8:]:
                if part.startswith("["):
                    continue
                bounds = [int(b) for b in part.split("-")]
                if bounds[0] <= slot <= bounds[-1] and owner != exclude:
                    return owner
        return None
    return None


def stack(*arguments):
    subprocess.run([STACK, *arguments], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--usher", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--phase-seconds", type=float, default=10)
    parser.add_argument("--fault-seconds", type=float, default=5)
    parser.add_argument("--ids", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--edge-port", type=int, default=18280)
    parser.add_argument("--app-port", type=int, default=18281)
    parser.add_argument("--worker-port", type=int, default=18282)
    parser.add_argument("--fal-port", type=int, default=18283)
    parser.add_argument("--cluster-url", help="run on this Redis Cluster (REDIS_CLUSTER=1): Redis's fault is a master's SIGKILL")
    arguments = parser.parse_args()
    os.makedirs(arguments.results, exist_ok=True)
    work = arguments.work

    # Keys: viewer tokens (HS256) and fal's webhook signature (Ed25519).
    secret = os.urandom(32)
    keys_path = os.path.join(work, "viewer-keys.json")
    with open(keys_path, "w") as out:
        json.dump({"keys": [{"kty": "oct", "kid": "f", "k": base64.urlsafe_b64encode(secret).rstrip(b"=").decode()}]}, out)
    fal_key = Ed25519PrivateKey.generate()
    fal_jwks = os.path.join(work, "fal-jwks.json")
    public = fal_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with open(fal_jwks, "w") as out:
        json.dump({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(public).rstrip(b"=").decode()}]}, out)

    run_id = f"fault-{int(time.time())}"
    environment = dict(os.environ)
    environment.update({
        "REDIS_URL": environment["REDIS_URL"].rsplit("/", 1)[0] + "/3", "USHER_TOKEN_KEYS": keys_path,
        "USHER_ADMIN_TOKENS": "fault-admin", "FAL_JWKS_FILE": fal_jwks, "MIRROR_ALLOWED_HOSTS": f"{HOST}:{arguments.fal_port}",
        "MIRROR_ALLOW_INSECURE_LOCALHOST": "1", "MIRROR_LEASE_SECONDS": "5", "USHER_LOCAL_CACHE_TTL": "0",
        "USHER_SHUTDOWN_GRACE": "10", "LOG_LEVEL": "warning", "USHER_EVENT_LOOPS": "1",
    })
    if arguments.cluster_url:
        environment.update({"REDIS_URL": arguments.cluster_url, "REDIS_CLUSTER": "1"})

    # Ids the load reads: imported COMPLETED (Postgres) and then read once each (so Redis holds them too).
    import_path = os.path.join(work, "import.jsonl")
    paths_path = os.path.join(work, "paths.txt")
    ids = [f"{run_id}-v{i:05d}" for i in range(arguments.ids)]
    with open(import_path, "w") as out, open(paths_path, "w") as paths:
        for request_id in ids:
            out.write(json.dumps({"request_id": request_id, "owner": "faults", "visibility": "private",
                                  "object_key": f"videos/{request_id}.mp4"}) + "\n")
            now = int(time.time())
            token = jwt.encode({"vid": request_id, "exp": now + 3600, "iat": now, "aud": "usher"}, secret, algorithm="HS256",
                               headers={"kid": "f"})
            paths.write(f"/v/{request_id}?token={token}\n")
    subprocess.run([arguments.usher, "migrate"], env=environment, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([arguments.usher, "import", import_path], env=environment, check=True, stdout=subprocess.DEVNULL)

    fal = FalStandIn(arguments.fal_port, 64 * 1024)
    fal.start()
    gateway_env = dict(environment, USHER_LISTEN=f"{HOST}:{arguments.edge_port}", USHER_APP_LISTEN=f"{HOST}:{arguments.app_port}")
    worker_env = dict(environment, USHER_APP_LISTEN=f"{HOST}:{arguments.worker_port}")
    gateway = Usher(arguments.usher, "gateway,webhook", gateway_env, os.path.join(work, "gateway.log"))
    worker = Usher(arguments.usher, "worker", worker_env, os.path.join(work, "worker.log"))
    gateway.start()
    worker.start()
    edge = f"http://{HOST}:{arguments.edge_port}"
    ready = lambda port: http("GET", f"http://{HOST}:{port}/readyz", timeout=1)[0] == 200
    if wait_until(lambda: ready(arguments.app_port) and ready(arguments.worker_port), 60) is None:
        log("usher did not become ready")
        return 1
    with open(paths_path) as paths:
        warm = paths.read().split("\n")
    for line in warm[: len(warm) - 1]:
        status_without_redirect(edge + line)

    sender = WebhookSender(arguments.app_port, arguments.fal_port, fal_key, f"{run_id}-w", 0.02)
    sender.start()
    phases = []
    played = warm[0]

    def phase(name, fault, restore, recovered):
        """wrk for the phase; `fault` at 1 s, `restore` after fault-seconds, then time until `recovered`."""
        out_json = os.path.join(work, f"wrk-{name}.json")
        load = wrk(arguments.edge_port, paths_path, int(arguments.phase_seconds), out_json, arguments.connections)
        sender.take_answers()
        time.sleep(1)
        note = fault() if fault else None
        recovery = None
        if restore:
            time.sleep(arguments.fault_seconds)
            restored_at = time.monotonic()
            restore()
            waited = wait_until(recovered, 30)
            recovery = None if waited is None else time.monotonic() - restored_at
        load.wait()
        with open(out_json) as result:
            figures = json.load(result)
        webhooks = sender.take_answers()
        codes = {}
        for part in (figures.get("unexpected_codes") or "").replace(";", ",").split(","):
            if ":" in part:
                code, count = part.split(":")
                codes[code] = codes.get(code, 0) + int(count)
        record = {"phase": name, "requests": figures["requests"], "errors": figures["errors"],
                  "unexpected": figures.get("unexpected", 0), "unexpected_codes": codes,
                  "webhooks": webhooks, "recovery_s": recovery, "note": note}
        phases.append(record)
        log(f"{name}: {record}")

    plays = lambda: status_without_redirect(edge + played) == 302
    both_ready = lambda: ready(arguments.app_port) and plays()

    phase("baseline", None, None, None)
    if arguments.cluster_url:
        # The master of the first id's record: SIGKILLed; its replica takes over (cluster-node-timeout 2 s), and the
        # killed node then rejoins as a replica.
        victim = {}

        def kill_master():
            slot = subprocess.run(["redis-cli", "-p", seed_ports(arguments.cluster_url)[0], "cluster", "keyslot", f"usher:gen:{ids[0]}"],
                                  capture_output=True, text=True, check=True).stdout.strip()
            victim["port"] = master_port(arguments.cluster_url, int(slot))
            victim["slot"] = int(slot)
            victim["at"] = time.monotonic()
            subprocess.run([CLUSTER, "kill", victim["port"]], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            watcher.start()
            return f"killed the master on {victim['port']}"

        def watch_promotion():
            if wait_until(lambda: master_port(arguments.cluster_url, victim["slot"], exclude=victim["port"]) is not None, 30) is not None:
                victim["promoted_s"] = time.monotonic() - victim["at"]

        watcher = threading.Thread(target=watch_promotion, daemon=True)
        promoted = lambda: watcher.join(31)

        # Recovery counts from the end of the fault-seconds wait (the promotion comes 2–4 s after the kill, within
        # it; a later one is counted); the killed node is restarted (it rejoins as a replica) only after the phase,
        # so its resync is not counted.
        phase(REDIS_FAILOVER, kill_master, promoted, both_ready)
        subprocess.run([CLUSTER, "start"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took = victim.get("promoted_s")
        phases[-1]["note"] += f"; its replica promoted {took:.1f} s after the kill" if took is not None else "; no promotion"
    else:
        phase("redis down", lambda: stack("stop", "redis"), lambda: stack("start"), both_ready)
    phase("postgres down", lambda: stack("stop", "postgres"), lambda: stack("start"), both_ready)

    def kill_worker():
        code, _ = worker.signal(signal.SIGKILL)
        return f"worker exit {code}"

    def restart_worker():
        worker.start()

    phase("worker SIGKILL", kill_worker, restart_worker, lambda: ready(arguments.worker_port))

    def term_gateway():
        code, seconds = gateway.signal(signal.SIGTERM)
        return f"gateway exit {code} after {seconds:.2f} s"

    def restart_gateway():
        gateway.start()

    phase("gateway SIGTERM", term_gateway, restart_gateway, both_ready)

    # Nothing lost: every webhook accepted, every accepted generation mirrored, every object in the bucket.
    sender.sending = False
    sender.join()
    all_accepted = sender.drain(30)
    expected = set(sender.sent)
    done = wait_until(lambda: counts(environment, f"{run_id}-w-%").get("COMPLETED", 0) >= len(expected), 90, step=0.5)
    final = counts(environment, f"{run_id}-w-%")
    jobs_left = scalar(environment, f"SELECT count(*) FROM mirror_jobs WHERE request_id LIKE '{run_id}-w-%'")
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name=os.environ.get("S3_REGION", "us-east-1"),
                      aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"], aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))
    missing_objects = []
    for request_id in sorted(expected):
        try:
            head = s3.head_object(Bucket=os.environ["S3_BUCKET"], Key=f"videos/{request_id}.mp4")
            if head["ContentLength"] != len(fal.payload):
                missing_objects.append(request_id)
        except Exception:
            missing_objects.append(request_id)

    code, seconds = gateway.signal(signal.SIGTERM)
    worker.signal(signal.SIGTERM)
    fal.server.shutdown()
    summary = {"phases": phases, "webhooks_sent": len(expected), "webhooks_accepted": len(sender.accepted & expected),
               "all_accepted": all_accepted, "generations": final, "jobs_left": jobs_left,
               "objects_missing": len(missing_objects), "mirrored_within_s": done,
               "settings": {"phase_seconds": arguments.phase_seconds, "fault_seconds": arguments.fault_seconds,
                            "ids": arguments.ids, "connections": arguments.connections,
                            "cluster": bool(arguments.cluster_url)}}
    with open(os.path.join(arguments.results, "cluster.json" if arguments.cluster_url else "latest.json"), "w") as out:
        json.dump(summary, out, indent=2)
    report(summary, os.path.join(arguments.results, "cluster.md" if arguments.cluster_url else "latest.md"))
    failures = verdict(summary)
    for failure in failures:
        log(f"FAILED: {failure}")
    if jobs_left:
        # Why the worker did not finish, before the work folder (and the logs in it) goes: the jobs' own last errors
        # and the end of the worker's log.
        errors = psql(environment, "SELECT count(*) || ' × ' || coalesce(last_error, '(no error recorded)') FROM mirror_jobs "
                                   f"WHERE request_id LIKE '{run_id}-w-%' GROUP BY last_error ORDER BY count(*) DESC LIMIT 5")
        for line in errors.strip().splitlines():
            log(f"mirror job error: {line}")
        for line in worker.log_tail(20):
            log(f"worker log: {line}")
    return 1 if failures else 0


def psql(environment, sql):
    return subprocess.run([STACK, "psql", "-At", "-c", sql], env=environment, check=True, capture_output=True, text=True).stdout


def counts(environment, pattern):
    out = psql(environment, f"SELECT status, count(*) FROM generations WHERE request_id LIKE '{pattern}' GROUP BY status")
    return {line.split("|")[0]: int(line.split("|")[1]) for line in out.split() if "|" in line}


def scalar(environment, sql):
    return int(psql(environment, sql).strip() or 0)


def verdict(summary):
    """The targets (issue: fault injection under load)."""
    failures = []
    by_name = {p["phase"]: p for p in summary["phases"]}
    redis = REDIS_FAILOVER if REDIS_FAILOVER in by_name else "redis down"
    for name in ("baseline", redis, "postgres down", "worker SIGKILL"):
        phase = by_name[name]
        fivexx = sum(v for k, v in phase["unexpected_codes"].items() if k.startswith("5"))
        if phase["unexpected"] or fivexx:
            failures.append(f"{name}: {phase['unexpected']} answers other than 302 ({phase['unexpected_codes']})")
    term = by_name["gateway SIGTERM"]
    if any(k.startswith("5") for k in term["unexpected_codes"]):
        failures.append(f"gateway SIGTERM: 5xx answers {term['unexpected_codes']}")
    if "exit 0" not in (term["note"] or ""):
        failures.append(f"gateway SIGTERM: {term['note']}")
    for phase in summary["phases"]:
        if phase["recovery_s"] is not None and phase["recovery_s"] > 5:
            failures.append(f"{phase['phase']}: recovery {phase['recovery_s']:.2f} s > 5 s")
        if phase["phase"] != "baseline" and phase["recovery_s"] is None:
            failures.append(f"{phase['phase']}: did not recover within 30 s")
    if not summary["all_accepted"]:
        failures.append("some webhooks were never accepted")
    if summary["generations"].get("COMPLETED", 0) != summary["webhooks_sent"]:
        failures.append(f"generations {summary['generations']} ≠ {summary['webhooks_sent']} COMPLETED")
    if summary["jobs_left"]:
        failures.append(f"{summary['jobs_left']} mirror jobs left")
    if summary["objects_missing"]:
        failures.append(f"{summary['objects_missing']} objects missing from the bucket")
    return failures


def report(summary, path):
    lines = ["# Fault injection under load", "",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}",
             f"- Command: `Benchmarks/faults/run{' --cluster' if summary['settings'].get('cluster') else ''}` ({summary['settings']})",
             "- Load: wrk -t1 over imported private ids with HS256 tokens, gateway in-process cache off (every request reads "
             "Redis, or Postgres when Redis fails); a signed fal webhook every ~20 ms, retried until 200 (as fal does).", "",
             "| phase | requests | socket errors | non-302 | webhooks answered | recovery after the fault ends | note |",
             "|---|---:|---|---:|---|---:|---|"]
    for p in summary["phases"]:
        errors = ", ".join(f"{k} {v}" for k, v in p["errors"].items() if v) or "0"
        recovery = "–" if p["recovery_s"] is None else f"{p['recovery_s']:.2f} s"
        webhooks = ", ".join(f"{'no connection' if k == 'None' else k}: {v}" for k, v in sorted(p["webhooks"].items()))
        lines.append(f"| {p['phase']} | {p['requests']:,} | {errors} | {p['unexpected']} {p['unexpected_codes'] or ''} | {webhooks} | "
                     f"{recovery} | {p['note'] or ''} |")
    lines += ["", f"Webhooks sent {summary['webhooks_sent']}, accepted {summary['webhooks_accepted']}; generations "
              f"{summary['generations']}; mirror jobs left {summary['jobs_left']}; objects missing from the bucket "
              f"{summary['objects_missing']}; all mirrored within "
              f"{'–' if summary['mirrored_within_s'] is None else format(summary['mirrored_within_s'], '.1f')} s after the load stopped.", ""]
    failures = verdict(summary)
    lines.append("Verdict: " + ("all targets met." if not failures else "; ".join(failures)))
    with open(path, "w") as out:
        out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
