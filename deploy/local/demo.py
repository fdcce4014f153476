"""The quick start's demo: the whole lifecycle against a running Usher, as an app and fal would drive it.

  demo.py keys DIR            make the demo's fal signing key (DIR/fal-key.hex) and its JWKS (DIR/fal-jwks.json) once
  demo.py run DIR [options]   make a short MP4 with ffmpeg, offer it from a local stand-in for fal.media, register the
                              generation, send fal's signed webhook, wait for the worker to mirror it, then print a
                              player page (/demo/{id}), a viewer-token URL and a share link

Needs Python's `cryptography` (the stack's venv has it), ffmpeg, and Usher started with USHER_DEMO=1,
FAL_JWKS_FILE=DIR/fal-jwks.json and the stand-in's address in MIRROR_ALLOWED_HOSTS (deploy/local/run does this).
"""
import argparse
import base64
import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def fail(message):
    print(f"demo: {message}", file=sys.stderr)
    sys.exit(1)


def keys(directory):
    os.makedirs(directory, exist_ok=True)
    seed_path = os.path.join(directory, "fal-key.hex")
    if not os.path.exists(seed_path):
        with open(os.open(seed_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as out:
            out.write(os.urandom(32).hex())
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(open(seed_path).read().strip()))
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(public).rstrip(b"=").decode()
    with open(os.path.join(directory, "fal-jwks.json"), "w") as out:
        json.dump({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "demo-fal", "x": x}]}, out)
    return key


def call(method, url, token=None, body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if isinstance(body, dict):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(app, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if call("GET", f"{app}/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    fail(f"Usher's app listener {app} did not become ready within {seconds} s")


def make_clip(path):
    if os.path.exists(path):
        return
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=duration=12:size=640x360:rate=25",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-b:v", "1M", "-movflags", "+faststart", "-y", path], check=True)


def stand_in(directory, port):
    """fal.media's stand-in: plain files over http on loopback (Usher allows it only with MIRROR_ALLOW_INSECURE_LOCALHOST)."""
    handler = functools.partial(Quiet, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def signed_webhook(key, request_id, body):
    timestamp = str(int(time.time()))
    user_id = "demo-user"
    message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()
    return {
        "Content-Type": "application/json",
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": user_id,
        "X-Fal-Webhook-Timestamp": timestamp,
        "X-Fal-Webhook-Signature": key.sign(message).hex(),
    }


def run(arguments):
    key = keys(arguments.dir)
    app, admin = arguments.app.rstrip("/"), arguments.admin_token
    wait_ready(app)
    clip = os.path.join(arguments.dir, "clip.mp4")
    make_clip(clip)
    server = stand_in(arguments.dir, arguments.fal_port)
    try:
        request_id = f"demo-{int(time.time())}"
        status, body = call("POST", f"{app}/v1/generations", admin, {"request_id": request_id, "owner": "demo", "visibility": "private"})
        if status not in (200, 201):
            fail(f"POST /v1/generations answered {status}: {body.decode(errors='replace')}")
        source = f"http://127.0.0.1:{arguments.fal_port}/clip.mp4"
        payload = json.dumps({
            "request_id": request_id, "gateway_request_id": request_id, "status": "OK",
            "payload": {"video": {"url": source, "content_type": "video/mp4", "file_size": os.path.getsize(clip), "file_name": "clip.mp4"}},
        }).encode()
        status, body = call("POST", f"{app}/webhooks/fal", body=payload, headers=signed_webhook(key, request_id, payload))
        if status != 200:
            fail(f"the signed webhook was answered {status}: {body.decode(errors='replace')}")
        print(f"demo: {request_id}: webhook accepted, mirroring {source} into the bucket", file=sys.stderr)
        deadline = time.monotonic() + 60
        row = {}
        while time.monotonic() < deadline:
            row = json.loads(call("GET", f"{app}/v1/generations/{request_id}", admin)[1] or b"{}")
            if row.get("status") in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.3)
        if row.get("status") != "COMPLETED":
            fail(f"the mirror did not complete: {row}")
    finally:
        server.shutdown()

    token = subprocess.run([arguments.usher, "token", "mint", "--kid", arguments.kid, "--vid", request_id, "--ttl", "86400"],
                           check=True, capture_output=True, text=True).stdout.strip()
    status, body = call("POST", f"{app}/v1/shares", admin, {"request_id": request_id, "ttl_seconds": 86400})
    if status != 201:
        fail(f"POST /v1/shares answered {status}: {body.decode(errors='replace')}")
    share = json.loads(body)
    print(f"""
demo: {request_id} is mirrored: {row['cdn_url']} (private; served only through the gateway)
  Player page (open in a browser):   {app}/demo/{request_id}?token={token}
  Same video through a share link:   {app}/demo/{request_id}?share={share['code']}
  The share link itself (24 h):      {share['url']}
  The gateway's 302:                 curl -i '{arguments.edge}/v/{request_id}?token={token}'
""")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("keys").add_argument("dir")
    runner = commands.add_parser("run")
    runner.add_argument("dir")
    runner.add_argument("--app", default="http://127.0.0.1:8081")
    runner.add_argument("--edge", default="http://127.0.0.1:8080")
    runner.add_argument("--admin-token", required=True)
    runner.add_argument("--usher", required=True, help="the usher executable (for `usher token mint`)")
    runner.add_argument("--kid", default="dev")
    runner.add_argument("--fal-port", type=int, default=8899)
    arguments = parser.parse_args()
    if arguments.command == "keys":
        keys(arguments.dir)
    else:
        run(arguments)


if __name__ == "__main__":
    main()
