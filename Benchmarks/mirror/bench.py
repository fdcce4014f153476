"""Drives the mirror benchmark; see ./run. Loopback only, bounded in size and time."""
import base64
import hashlib
import http.server
import json
import os
import secrets
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

import boto3
import requests
from botocore.config import Config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

usher, report = sys.argv[1], sys.argv[2]
size = int(os.environ.get("MIRROR_BENCH_MIB", "1024")) * 1024 * 1024
CHUNK = 1 << 20
block = secrets.token_bytes(CHUNK)


class Source(http.server.BaseHTTPRequestHandler):
    """Serves `size` bytes without touching the disk."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        while sent < size:
            n = min(CHUNK, size - sent)
            self.wfile.write(block[:n])
            sent += n

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


source = Server(("127.0.0.1", 0), Source)
threading.Thread(target=source.serve_forever, daemon=True).start()
port = source.server_address[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sample_peak(pid, stop, out):
    peak = 0
    while not stop.is_set():
        try:
            peak = max(peak, rss_kib(pid))
        except FileNotFoundError:
            break
        time.sleep(0.05)
    out.append(peak)


# --- Usher --------------------------------------------------------------------------------------------------
key = Ed25519PrivateKey.generate()
x = base64.urlsafe_b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=").decode()
work = tempfile.mkdtemp(prefix="usher-mirror-bench.")
jwks = os.path.join(work, "fal.json")
with open(jwks, "w") as f:
    json.dump({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}, f)
env = dict(os.environ, FAL_JWKS_FILE=jwks, MIRROR_ALLOWED_HOSTS=f"127.0.0.1:{port}", MIRROR_ALLOW_INSECURE_LOCALHOST="1",
           USHER_APP_LISTEN="127.0.0.1:18181", USHER_ADMIN_TOKENS="bench", LOG_LEVEL="warning",
           MIRROR_MAX_BYTES=str(size * 2))
proc = subprocess.Popen([usher, "serve", "--roles", "webhook,worker"], env=env)
try:
    for _ in range(100):
        try:
            urllib.request.urlopen("http://127.0.0.1:18181/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(1)
    baseline = rss_kib(proc.pid)
    request_id = "bench-mirror-" + uuid.uuid4().hex
    body = json.dumps({"request_id": request_id, "status": "OK", "payload": {"video": {
        "url": f"http://127.0.0.1:{port}/{request_id}.mp4", "content_type": "video/mp4", "file_size": size}}}).encode()
    ts = str(int(time.time()))
    message = "\n".join([request_id, "bench", ts, hashlib.sha256(body).hexdigest()]).encode()
    headers = {"X-Fal-Webhook-Request-Id": request_id, "X-Fal-Webhook-User-Id": "bench", "X-Fal-Webhook-Timestamp": ts,
               "X-Fal-Webhook-Signature": key.sign(message).hex(), "Content-Type": "application/json"}
    stop, peaks = threading.Event(), []
    sampler = threading.Thread(target=sample_peak, args=(proc.pid, stop, peaks))
    sampler.start()
    started = time.monotonic()
    reply = requests.post("http://127.0.0.1:18181/webhooks/fal", data=body, headers=headers, timeout=10)
    reply.raise_for_status()
    status = None
    while time.monotonic() - started < 900:
        row = requests.get(f"http://127.0.0.1:18181/v1/generations/{request_id}", headers={"Authorization": "Bearer bench"}, timeout=5).json()
        status = row["status"]
        if status in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.05)
    usher_seconds = time.monotonic() - started
    stop.set()
    sampler.join()
    if status != "COMPLETED":
        sys.exit(f"usher did not complete the mirror: {row}")
    usher_growth = (peaks[0] - baseline) / 1024
finally:
    proc.terminate()
    proc.wait(timeout=30)

# --- Python peer: boto3 upload_fileobj of a requests stream, measured in a child process -------------------
peer = f"""
import resource, sys, time, boto3, requests
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url="{os.environ['S3_ENDPOINT']}", region_name="{os.environ['S3_REGION']}",
    aws_access_key_id="{os.environ['S3_ACCESS_KEY_ID']}", aws_secret_access_key="{os.environ['S3_SECRET_ACCESS_KEY']}",
    config=Config(signature_version="s3v4", s3={{"addressing_style": "path"}}))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.monotonic()
with requests.get("http://127.0.0.1:{port}/peer.mp4", stream=True) as r:
    r.raise_for_status()
    s3.upload_fileobj(r.raw, "{os.environ['S3_BUCKET']}", "bench/peer-{uuid.uuid4().hex}.mp4")
print(time.monotonic() - start, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
"""
out = subprocess.run([sys.executable, "-c", peer], capture_output=True, text=True, check=True).stdout.split()
peer_seconds, peer_growth = float(out[0]), float(out[1])

mib = size // (1024 * 1024)
lines = [
    f"# Mirror benchmark ({mib} MiB, loopback)", "",
    f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores; command: `Benchmarks/mirror/run`", "",
    "| mirror | wall time | throughput | peak RSS growth |", "|---|---|---|---|",
    f"| Usher worker (webhook → COMPLETED) | {usher_seconds:.1f} s | {mib / usher_seconds:.0f} MiB/s | {usher_growth:.1f} MiB |",
    f"| boto3 `upload_fileobj(requests stream)` | {peer_seconds:.1f} s | {mib / peer_seconds:.0f} MiB/s | {peer_growth:.1f} MiB |",
    "", "Targets: Usher's wall time ≤ the peer's; RSS growth ≤ 64 MiB.",
]
open(report, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
