#!/usr/bin/env python3
"""Helpers of Benchmarks/load/run (run with the stack's venv Python).

  bench.py prepare DIR --ids N --s3-target URL       token key, import file, wrk path files, nginx secret
  bench.py wait URL [--timeout S]                    until GET URL answers 200
  bench.py smoke BASE PATH [--presigned]             one GET must answer 302 with a Location
  bench.py location BASE PATH                        the 302's Location equals botocore's presigned URL for the same
                                                     key, expiry and signing time; Cache-Control and Referrer-Policy
  bench.py decisions BASE DIR                        fixed token/id cases (PyJWT) answer the statuses of CONTRACT § Gateway
  bench.py presign-fixed BASE [--count N]            the peer's signer (POST /_check/presign) against botocore on fixed cases
  bench.py upload DIR --count K --size BYTES         put K objects of the imported keys into S3 (boto3)
  bench.py e2e BASE DIR --count K --requests N       time to the first video byte through the 302
  bench.py metrics URL                               Usher's cache counters from /metrics
  bench.py report DIR --md FILE --png FILE           Markdown table and latency plot from the case files
  bench.py spin DIR CASE FLOOR                       nanoseconds of CPU per request CASE spent above FLOOR (the
                                                     EdgeFloor spin that puts the floor at CASE's cost)
"""
import argparse
import base64
import calendar
import hashlib
import http.client
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

ID_PREFIX = "bench-load-"
OWNER = "bench-load"
KID = "load"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def ids(n):
    return [f"{ID_PREFIX}{i:05d}" for i in range(n)]


def object_key(vid):
    return f"bench/load/{vid}.bin"


# ------------------------------------------------------------------ prepare

def cmd_prepare(a):
    import jwt  # PyJWT, from the stack's venv

    d = a.dir
    os.makedirs(d, exist_ok=True)
    key = secrets.token_bytes(32)
    with open(os.path.join(d, "jwks.json"), "w") as f:
        json.dump({"keys": [{"kty": "oct", "kid": KID, "alg": "HS256", "k": b64url(key)}]}, f)
    os.chmod(os.path.join(d, "jwks.json"), 0o600)

    now = int(time.time())
    exp = now + a.token_ttl
    all_ids = ids(a.ids)
    with open(os.path.join(d, "import.jsonl"), "w") as f:
        for vid in all_ids:
            f.write(json.dumps({"request_id": vid, "owner": OWNER, "visibility": "private", "object_key": object_key(vid)}) + "\n")

    order = list(range(a.ids))
    random.Random(1).shuffle(order)  # wrk walks the file in order; spread consecutive requests over the ids

    tokens = [jwt.encode({"vid": vid, "sub": f"viewer-{i}", "aud": "usher", "iat": now, "exp": exp}, key,
                         algorithm="HS256", headers={"kid": KID}) for i, vid in enumerate(all_ids)]
    with open(os.path.join(d, "usher-paths.txt"), "w") as f:
        for i in order:
            f.write(f"/v/{all_ids[i]}?token={tokens[i]}\n")

    nginx_secret = secrets.token_hex(16)
    with open(os.path.join(d, "nginx-secret"), "w") as f:
        f.write(nginx_secret)
    with open(os.path.join(d, "nginx-302-paths.txt"), "w") as f:
        for i in order:
            f.write(f"/r/{all_ids[i]}.mp4\n")
    with open(os.path.join(d, "nginx-secure-paths.txt"), "w") as f:
        for i in order:
            uri = f"/s/{all_ids[i]}.mp4"
            md5 = b64url(hashlib.md5(f"{exp}{uri} {nginx_secret}".encode()).digest())
            f.write(f"{uri}?md5={md5}&expires={exp}\n")
    print(f"prepared {a.ids} ids, tokens and nginx links in {d} (token length {len(tokens[0])} bytes)")


# ------------------------------------------------------------------ probes

def get(base, path, timeout=5.0):
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("Location"), r.read()
    finally:
        conn.close()


def cmd_wait(a):
    deadline = time.monotonic() + a.timeout
    last = None
    u = urllib.parse.urlsplit(a.url)
    while time.monotonic() < deadline:
        try:
            status, _, body = get(f"{u.scheme}://{u.netloc}", u.path or "/", timeout=1)
            if status == 200:
                return 0
            last = f"HTTP {status}: {body[:200]!r}"
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    print(f"{a.url} not ready after {a.timeout}s: {last}", file=sys.stderr)
    return 1


def cmd_smoke(a):
    status, location, body = get(a.base, a.path)
    ok = status == 302 and location and (not a.presigned or "X-Amz-Signature=" in location)
    if not ok:
        print(f"smoke test failed: GET {a.base}{a.path[:80]}... -> {status} Location={location!r} body={body[:300]!r}",
              file=sys.stderr)
        return 1
    print(f"smoke: {status} -> {location[:100]}{'...' if len(location) > 100 else ''}")
    return 0


# ------------------------------------------------------------------ the 302 against botocore

BOTOCORE_PRESIGN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Support",
                                "botocore_presign.py")


def botocore_urls(cases):
    """botocore's generate_presigned_url for each case (Tests/Support/botocore_presign.py, the peer Usher's own
    SigV4 tests compare with), in order."""
    out = subprocess.run([sys.executable, BOTOCORE_PRESIGN], input=json.dumps(cases, ensure_ascii=False),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def s3_case(key, expires, signing_time):
    """A botocore_presign.py case for the stack's bucket (the S3_* variables both servers read)."""
    return {"endpoint": os.environ["S3_ENDPOINT"], "region": os.environ.get("S3_REGION", "auto"),
            "bucket": os.environ["S3_BUCKET"], "key": key, "addressing": os.environ.get("S3_ADDRESSING", "path"),
            "access_key": os.environ["S3_ACCESS_KEY_ID"], "secret_key": os.environ["S3_SECRET_ACCESS_KEY"],
            "token": os.environ.get("S3_SESSION_TOKEN") or None, "expires": expires, "time": signing_time}


def check_location(base, path):
    """GET BASE+PATH (a /v/bench-load-…?token=… of the benchmark) must answer 302 with an empty body, a Location
    byte-identical to botocore's presigned GET of the id's object key at the URL's own X-Amz-Date and X-Amz-Expires,
    `Cache-Control: private, max-age=<expiry − now − 60>` and `Referrer-Policy: no-referrer`. Returns a list of
    problems (empty when all holds)."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    before = int(time.time())
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()
    after = int(time.time())
    location = headers.get("location") or ""
    if r.status != 302 or not location:
        return [f"answered {r.status}, Location {location!r}, body {body[:200]!r}"]
    problems = []
    vid = urllib.parse.unquote(path.split("?", 1)[0].rsplit("/", 1)[-1])
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query, keep_blank_values=True))
    try:
        signing_time = calendar.timegm(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
        expires = int(query["X-Amz-Expires"])
    except (KeyError, ValueError) as e:
        return [f"Location lacks a readable X-Amz-Date/X-Amz-Expires ({e}): {location}"]
    expected = botocore_urls([s3_case(object_key(vid), expires, signing_time)])[0]
    if location != expected:
        problems.append(f"Location differs from botocore's\n  server   {location}\n  botocore {expected}")
    ages = {f"private, max-age={max(0, signing_time + expires - now - 60)}" for now in range(before, after + 1)}
    if headers.get("cache-control") not in ages:
        problems.append(f"Cache-Control {headers.get('cache-control')!r}, expected one of {sorted(ages)}")
    if headers.get("referrer-policy") != "no-referrer":
        problems.append(f"Referrer-Policy {headers.get('referrer-policy')!r}")
    if body or headers.get("content-length") != "0":
        problems.append(f"body {body[:80]!r}, Content-Length {headers.get('content-length')!r}")
    return problems


def cmd_location(a):
    problems = check_location(a.base, a.path)
    if problems:
        print(f"location check failed for {a.base}:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"location: {a.base} answers 302 with botocore's URL (same key, X-Amz-Date and X-Amz-Expires), "
          "Cache-Control and Referrer-Policy as Usher's contract says")
    return 0


def cmd_decisions(a):
    """The same fixed requests against either server: statuses and problem types per CONTRACT § Gateway."""
    import warnings

    import jwt

    warnings.filterwarnings("ignore", module="jwt")  # the HS384 case's 32-byte key
    with open(os.path.join(a.dir, "jwks.json")) as f:
        jwk = json.load(f)["keys"][0]
    key = base64.urlsafe_b64decode(jwk["k"] + "=" * (-len(jwk["k"]) % 4))
    now = int(time.time())
    vid, other = ids(2)
    missing = f"{ID_PREFIX}missing"

    def mint(claims, headers=None, algorithm="HS256", secret=key):
        base_claims = {"sub": "viewer-check", "aud": "usher", "iat": now, "exp": now + 600}
        base_claims.update(claims)
        return jwt.encode({k: v for k, v in base_claims.items() if v is not None}, secret, algorithm=algorithm,
                          headers={"kid": KID} if headers is None else headers)

    good = mint({"vid": vid})
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    unsigned = b64url(b'{"alg":"none","typ":"JWT"}') + "." + good.split(".")[1] + "."
    cases = [
        ("valid token, vid = id", f"/v/{vid}?token={good}", {}, 302, None),
        ("valid token in Authorization: Bearer", f"/v/{vid}", {"Authorization": f"Bearer {good}"}, 302, None),
        ("valid token in the usher_token cookie", f"/v/{vid}", {"Cookie": f"usher_token={good}"}, 302, None),
        ("vid an array holding the id", f"/v/{vid}?token={mint({'vid': [other, vid]})}", {}, 302, None),
        ("own = the owner", f"/v/{vid}?token={mint({'own': OWNER})}", {}, 302, None),
        ("aud an array holding usher", f"/v/{vid}?token={mint({'vid': vid, 'aud': ['x', 'usher']})}", {}, 302, None),
        ("no kid, the only key", f"/v/{vid}?token={mint({'vid': vid}, headers={})}", {}, 302, None),
        ("no token, private video", f"/v/{vid}", {}, 401, "token-required"),
        ("signature altered", f"/v/{vid}?token={forged}", {}, 401, "invalid-token"),
        ("alg none", f"/v/{vid}?token={unsigned}", {}, 401, "invalid-token"),
        ("alg HS384", f"/v/{vid}?token={mint({'vid': vid}, algorithm='HS384')}", {}, 401, "invalid-token"),
        ("unknown kid", f"/v/{vid}?token={mint({'vid': vid}, headers={'kid': 'nope'})}", {}, 401, "invalid-token"),
        ("other key", f"/v/{vid}?token={mint({'vid': vid}, secret=bytes(32))}", {}, 401, "invalid-token"),
        ("expired beyond the 30 s leeway", f"/v/{vid}?token={mint({'vid': vid, 'exp': now - 60})}", {}, 401, "invalid-token"),
        ("expired within the leeway", f"/v/{vid}?token={mint({'vid': vid, 'exp': now - 5})}", {}, 302, None),
        ("no exp", f"/v/{vid}?token={mint({'vid': vid, 'exp': None})}", {}, 401, "invalid-token"),
        ("nbf in the future", f"/v/{vid}?token={mint({'vid': vid, 'nbf': now + 600})}", {}, 401, "invalid-token"),
        ("wrong aud", f"/v/{vid}?token={mint({'vid': vid, 'aud': 'other'})}", {}, 401, "invalid-token"),
        ("no scope", f"/v/{vid}?token={mint({})}", {}, 401, "invalid-token"),
        ("vid of another video", f"/v/{vid}?token={mint({'vid': other})}", {}, 403, "not-in-scope"),
        ("own of another owner", f"/v/{vid}?token={mint({'own': 'someone-else'})}", {}, 403, "not-in-scope"),
        ("unknown id", f"/v/{missing}?token={mint({'own': OWNER})}", {}, 404, "not-found"),
        ("malformed id", f"/v/a%20b?token={good}", {}, 404, "not-found"),
    ]
    u = urllib.parse.urlsplit(a.base)
    failures = 0
    for label, path, headers, status, code in cases:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        try:
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        got_code = None
        if r.status != 302:
            try:
                got_code = json.loads(body)["type"].rsplit("/", 1)[-1]
            except (ValueError, KeyError, TypeError):
                got_code = f"(body {body[:60]!r})"
        ok = r.status == status and got_code == code
        failures += not ok
        if not ok or a.verbose:
            print(f"  {'ok  ' if ok else 'FAIL'} {label}: {r.status} {got_code or ''} (expected {status} {code or ''})",
                  file=sys.stderr)
    print(f"decisions: {len(cases) - failures} of {len(cases)} fixed cases answered as CONTRACT § Gateway says ({a.base})")
    return 1 if failures else 0


def fixed_presign_cases(count):
    """Cases in botocore_presign.py's format, the way Tests/SigV4Tests/BotocoreCrossCheckTests.swift makes them
    (keys that stress the encoder, path and virtual addressing, session tokens, expiries 1 s…7 days), without the
    response-* overrides the peer does not implement. Deterministic."""
    rng = random.Random(20261129)
    pieces = ["a", "Z", "9", "-", "_", ".", "~", " ", "+", "=", "%", "&", "?", "#", "/", "//", "é", "日本", "🎬", "'", "(",
              ")", "*", "!", "$", ",", ";", ":", "@", "[", "]", "\"", "<", ">", "\\", "^", "`", "{", "|", "}", "..",
              "videos/", "%20", "%2F", "ü", "\x7f", "\t"]
    endpoints = [("http://127.0.0.1:8333", "us-east-1"), ("https://abc123.r2.cloudflarestorage.com", "auto"),
                 ("https://s3.eu-west-1.amazonaws.com", "eu-west-1"), ("https://minio.example.com:9000", "us-east-1"),
                 ("http://storage.local:80", "us-east-1")]
    cases, index = [], 0
    while len(cases) < count:
        index += 1
        endpoint, region = endpoints[index % len(endpoints)]
        addressing = "virtual" if index % 2 else "path"
        if addressing == "virtual" and "127.0.0.1" in endpoint:
            addressing = "path"
        if index % 97 == 0:
            key = "k" * 1020 + "é/x"
        else:
            key = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 24)))
            while len(key.encode()) > 1024:
                key = key[:-1]
        cases.append({"endpoint": endpoint, "region": region, "bucket": "usher-videos" if index % 3 == 0 else "usher",
                      "key": key, "addressing": addressing, "access_key": f"AKIDEXAMPLE{index % 4}",
                      "secret_key": f"secret/+{index % 5}key",
                      "token": f"FQoGZXIvYXdzE+/=token{index % 3}" if index % 4 >= 2 else None,
                      "expires": [1, 60, 900, 3600, 604800][index % 5], "time": 1_700_000_000 + index * 7919})
    return cases


def cmd_presign_fixed(a):
    cases = fixed_presign_cases(a.count)
    u = urllib.parse.urlsplit(a.base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("POST", "/_check/presign", body=json.dumps(cases, ensure_ascii=False).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    if r.status != 200:
        print(f"presign-fixed: {a.base}/_check/presign answered {r.status}: {body[:300]!r}", file=sys.stderr)
        return 1
    peer = json.loads(body)
    expected = botocore_urls(cases)
    bad = [(c, p, e) for c, p, e in zip(cases, peer, expected) if p != e]
    for c, p, e in bad[:3]:
        print(f"  key {c['key']!r} ({c['endpoint']}, {c['addressing']}):\n    peer     {p}\n    botocore {e}", file=sys.stderr)
    print(f"presign-fixed: {len(cases) - len(bad)} of {len(cases)} fixed cases byte-identical to botocore ({a.base})")
    return 1 if bad or len(peer) != len(cases) else 0


def s3_client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name=os.environ.get("S3_REGION", "us-east-1"),
        aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"], aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


def cmd_upload(a):
    client = s3_client()
    bucket = os.environ["S3_BUCKET"]
    body = os.urandom(a.size)
    for vid in ids(a.count):
        client.put_object(Bucket=bucket, Key=object_key(vid), Body=body, ContentType="video/mp4")
    print(f"uploaded {a.count} objects of {a.size} bytes to s3://{bucket}/{object_key('…')}")


def cmd_e2e(a):
    """GET /v/{id}?token=… on one keep-alive connection, follow the Location on another (also kept alive),
    stop the clock at the first body byte; the rest of the body is read afterwards so the connection stays usable."""
    with open(os.path.join(a.dir, "usher-paths.txt")) as f:
        wanted = set(ids(a.count))
        paths = [p.strip() for p in f if p.split("?")[0][3:] in wanted]
    assert len(paths) == a.count, f"found {len(paths)} paths for {a.count} ids"
    u = urllib.parse.urlsplit(a.base)
    usher = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    origins = {}
    total, leg1, leg2, sizes, failures = [], [], [], set(), []
    for i in range(a.warmup + a.requests):
        path = paths[i % len(paths)]
        t0 = time.perf_counter()
        usher.request("GET", path)
        r = usher.getresponse()
        r.read()
        location = r.getheader("Location")
        t1 = time.perf_counter()
        if r.status != 302 or not location:
            failures.append(f"/v answered {r.status}")
            continue
        lu = urllib.parse.urlsplit(location)
        conn = origins.get(lu.netloc)
        if conn is None:
            conn = origins[lu.netloc] = http.client.HTTPConnection(lu.hostname, lu.port, timeout=10)
        conn.request("GET", lu.path + ("?" + lu.query if lu.query else ""))
        r2 = conn.getresponse()
        first = r2.read(1)
        t2 = time.perf_counter()
        rest = r2.read()
        if r2.status != 200 or not first:
            failures.append(f"origin answered {r2.status}: {rest[:200]!r}")
            continue
        sizes.add(1 + len(rest))
        if i >= a.warmup:
            total.append(t2 - t0)
            leg1.append(t1 - t0)
            leg2.append(t2 - t1)

    def pct(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))] * 1000 if xs else None

    out = {
        "requests": len(total), "failures": len(failures), "failure_sample": failures[:3], "object_bytes": sorted(sizes),
        "ids": a.count,
        "ttfb_ms": {"p50": pct(total, 50), "p90": pct(total, 90), "p99": pct(total, 99), "max": pct(total, 100),
                    "mean": statistics.fmean(total) * 1000 if total else None},
        "redirect_ms": {"p50": pct(leg1, 50), "p99": pct(leg1, 99)},
        "origin_first_byte_ms": {"p50": pct(leg2, 50), "p99": pct(leg2, 99)},
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"e2e: {len(total)} requests, {len(failures)} failures; first byte p50 {out['ttfb_ms']['p50']:.2f} ms, "
          f"p99 {out['ttfb_ms']['p99']:.2f} ms (302 leg p50 {out['redirect_ms']['p50']:.2f} ms)")
    return 1 if failures else 0


def cmd_metrics(a):
    with urllib.request.urlopen(a.url, timeout=5) as r:
        text = r.read().decode()
    lines = [l for l in text.splitlines() if l.startswith("usher_cache_lookups_total")]
    print("\n".join(lines))


# ------------------------------------------------------------------ report

CASES = [
    ("usher-cache-off", "Usher, in-process cache off (Redis GET per request)"),
    ("usher-cluster-cache-off", "Usher on a Redis Cluster (3 masters + 3 replicas), cache off"),
    ("usher-one-node-cluster-cache-off", "Usher on a one-node Redis Cluster (every slot on one master), cache off"),
    ("usher-cache-on", "Usher, in-process cache on (default 2 s)"),
    ("usher-healthz", "Usher `/healthz` (same process; expects 200: the floor, no token, lookup or signing)"),
    ("usher-cache-on-window", "Usher, cache on, `PRESIGN_WINDOW=300` (each video's URL signed once per window, not per request)"),
    ("nio-floor", "SwiftNIO floor (Benchmarks/Floor/EdgeFloor: no decoder, nginx-302's answer as fixed bytes)"),
    ("nio-floor-at-usher-cost", "SwiftNIO floor spun to Usher's cached `/v` cost (EdgeFloor with SPIN_NS: the same CPU per request, no other work)"),
    ("nginx-302", "nginx `return 302`"),
    ("nginx-secure-link", "nginx `secure_link` + 302"),
    ("nginx-lua-peer", "nginx + LuaJIT same-work peer (HS256 verify, Redis GET, SigV4 presign, 302; usher-peer.lua)"),
]

# The cases set side by side with the same-work peer.
PEER = "nginx-lua-peer"
USHER_VS_PEER = [("usher-cache-off", "Usher, cache off"), ("usher-cache-on", "Usher, cache on")]


def parse_perf_stat(path):
    """`perf stat -x,` output: {event: count}; None where the file is missing, "n/a" for an uncounted event."""
    if not os.path.exists(path):
        return None
    events = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) < 3 or line.startswith("#"):
                continue
            try:
                events[parts[2]] = int(float(parts[0]))
            except ValueError:
                events[parts[2]] = "n/a"
    return events


def parse_strace(path):
    """`strace -c` summary: ({syscall: calls}, total calls); None where the file is missing or empty."""
    if not os.path.exists(path):
        return None
    calls = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 5:
                continue
            try:
                float(parts[0])
                n = int(parts[3])
            except ValueError:
                continue
            if parts[-1] != "total":
                calls[parts[-1]] = calls.get(parts[-1], 0) + n
    return (calls, sum(calls.values())) if calls else None


def load_wrk(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        w = json.load(f)
    w["rps"] = w["requests"] / (w["duration_us"] / 1e6)
    return w


def load_counts(d, name):
    """The counting passes of a case (run's count_passes), per request of each pass."""
    out = {}
    w1 = load_wrk(os.path.join(d, f"{name}.count.wrk.json"))
    server = parse_perf_stat(os.path.join(d, f"{name}.count.txt"))
    if w1 and server:
        n = max(1, w1["requests"])
        redis = parse_perf_stat(os.path.join(d, f"{name}.redis-count.txt"))

        def per(events, event):
            v = (events or {}).get(event)
            return v / n if isinstance(v, int) else None

        out["perf"] = {"requests": w1["requests"], "rps": w1["rps"], "unexpected": w1["unexpected"],
                       "syscalls": per(server, "raw_syscalls:sys_enter"), "switches": per(server, "context-switches"),
                       "instructions": per(server, "instructions"),
                       "redis_syscalls": per(redis, "raw_syscalls:sys_enter"),
                       "redis_switches": per(redis, "context-switches")}
    w2 = load_wrk(os.path.join(d, f"{name}.strace.wrk.json"))
    st = parse_strace(os.path.join(d, f"{name}.strace.txt"))
    if w2 and st:
        n = max(1, w2["requests"])
        out["strace"] = {"requests": w2["requests"], "rps": w2["rps"], "unexpected": w2["unexpected"],
                         "total": st[1] / n, "calls": {k: v / n for k, v in st[0].items()}}
    w3 = load_wrk(os.path.join(d, f"{name}.calls.wrk.json"))
    calls = parse_perf_stat(os.path.join(d, f"{name}.calls.txt"))
    if w3 and calls:
        n = max(1, w3["requests"])
        out["calls"] = {"requests": w3["requests"], "rps": w3["rps"], "unexpected": w3["unexpected"],
                        **{event.split(":", 1)[1]: (v / n if isinstance(v, int) else None) for event, v in calls.items()}}
    return out or None


def top_calls(calls, k=6, floor=0.01):
    items = sorted(calls.items(), key=lambda kv: -kv[1])
    shown = [f"{name} {v:.2f}" for name, v in items[:k] if v >= floor]
    rest = sum(v for _, v in items[k:]) + sum(v for _, v in items[:k] if v < floor)
    if rest >= 0.005:
        shown.append(f"others {rest:.2f}")
    return ", ".join(shown) or "–"


def load_case(d, name):
    path_w, path_x = os.path.join(d, f"{name}.wrk.json"), os.path.join(d, f"{name}.extra.json")
    if not (os.path.exists(path_w) and os.path.exists(path_x)):
        return None
    with open(path_w) as f:
        w = json.load(f)
    with open(path_x) as f:
        x = json.load(f)
    w.update(x)
    w["rps"] = w["requests"] / (w["duration_us"] / 1e6)
    tick_us = 1e6 / x["clk_tck"]
    w["server_cpu_us_per_req"] = x["server_ticks"] * tick_us / max(1, w["requests"])
    # Older runs' extra.json has no user/system split.
    w["server_user_us_per_req"] = (
        x["server_user_ticks"] * tick_us / max(1, w["requests"]) if x.get("server_user_ticks") is not None else None)
    w["redis_cpu_us_per_req"] = x["redis_ticks"] * tick_us / max(1, w["requests"]) if x.get("redis_ticks") is not None else None
    w["cpu0_busy"] = x["cpu0_busy_ticks"] / max(1, x["cpu0_total_ticks"])
    w["cpu1_busy"] = x["cpu1_busy_ticks"] / max(1, x["cpu1_total_ticks"])
    w["p"] = {float(p): us for p, us in w["latency_us"]["percentiles"]}
    w["counts"] = load_counts(d, name)
    return w


def cmd_spin(a):
    case, floor = load_case(a.dir, a.case), load_case(a.dir, a.floor)
    if not case or not floor:
        print(f"spin: {a.case} or {a.floor} has no results in {a.dir}", file=sys.stderr)
        return 1
    print(max(0, round((case["server_cpu_us_per_req"] - floor["server_cpu_us_per_req"]) * 1000)))


def fmt_ms(us):
    return f"{us / 1000:.2f}"


def cmd_report(a):
    d = a.dir
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    cases = {name: load_case(d, name) for name, _ in CASES}
    base = cases.get("nginx-secure-link")
    base_rps = base["rps"] if base else None
    e2e = None
    if os.path.exists(os.path.join(d, "e2e.json")):
        with open(os.path.join(d, "e2e.json")) as f:
            e2e = json.load(f)

    L = []
    L.append("# Gateway load benchmark")
    L.append("")
    L.append(f"- Date: {meta['date']}")
    L.append(f"- Machine: {meta['nproc']} CPUs, {meta['cpu_model']}, {meta['mem']}, kernel {meta['kernel']}, {meta['os']}")
    L.append(f"- Usher: {meta['usher_version']}")
    L.append(f"- Tools: {meta['wrk']}; {meta['nginx']}; {meta['redis']}")
    if meta.get("lua_peer"):
        L.append(f"- Same-work peer: {meta['lua_peer']}")
    if meta.get("counts"):
        L.append(f"- Counting passes: {meta.get('perf', 'perf')} (`perf stat`), {meta.get('strace', 'strace')}")
    L.append(f"- Command: `{meta['command']}`")
    L.append(f"- Per case: `{meta['wrk_command']}` after a {meta['warmup']} warm-up, over {meta['ids']} ids "
             "(Usher and the same-work peer: `/v/{id}?token=<HS256 JWT>`, 302 to a SigV4-presigned S3 URL; nginx: "
             "`/r/{id}.mp4` and `/s/{id}.mp4?md5=…&expires=…`).")
    L.append("- Server on CPU 0 (Usher: `USHER_EVENT_LOOPS=1`, `taskset -c 0`, its redis-server moved to CPU 0 with "
             "`taskset -acp 0`; nginx and the peer: one worker, `worker_cpu_affinity 1`, the peer's Redis the same "
             "redis-server on CPU 0), wrk on CPU 1.")
    L.append("")
    L.append("| Case | req/s | p50 ms | p99 ms | p99.9 ms | max ms | unexpected status | server CPU µs/req | redis CPU µs/req | CPU0 busy | CPU1 (wrk) busy | × nginx secure_link |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, label in CASES:
        c = cases[name]
        if not c:
            L.append(f"| {label} | (not run) |||||||||||")
            continue
        errs = c["errors"]
        sock = errs["connect"] + errs["read"] + errs["write"] + errs["timeout"]
        bad = f"{c['unexpected']}" + (f" ({c['unexpected_codes']})" if c["unexpected"] else "") + (f", {sock} socket errors" if sock else "")
        redis = f"{c['redis_cpu_us_per_req']:.2f}" if c.get("redis_cpu_us_per_req") is not None else "–"
        ratio = f"{c['rps'] / base_rps:.2f}" if base_rps else "–"
        L.append(f"| {label} | {c['rps']:,.0f} | {fmt_ms(c['p'][50.0])} | {fmt_ms(c['p'][99.0])} | {fmt_ms(c['p'][99.9])} | "
                 f"{fmt_ms(c['latency_us']['max'])} | {bad} | {c['server_cpu_us_per_req']:.2f} | {redis} | "
                 f"{c['cpu0_busy'] * 100:.0f}% | {c['cpu1_busy'] * 100:.0f}% | {ratio} |")
    L.append("")
    L.append("server CPU = utime+stime from /proc/PID/stat (Usher: the whole process, all threads; nginx: its worker), "
             "delta over the measured 10 s divided by the requests; clock tick 10 ms. CPU0/CPU1 busy from /proc/stat "
             "over the same window (CPU1 near 100% would mean wrk, not the server, is the limit).")
    L.append("")

    if any(c and c.get("server_io_syscalls") is not None for c in cases.values()):
        L.append("## Counts per request")
        L.append("")
        L.append("Over the same measured run, divided by its requests: read- and write-family syscalls (`syscr` + `syscw` "
                 "of /proc/PID/io: read, readv, write, writev; not recv/send, epoll_wait and the like, so nginx's reads, "
                 "which use recv, are not in its figure: § Syscalls per request below counts them all) and context "
                 "switches of every thread, of the server and of its redis-server(s). Noise moves these far less than "
                 "time.")
        L.append("")
        L.append("| Case | server read+write syscalls | server context switches | Redis read+write syscalls | Redis context switches |")
        L.append("|---|---:|---:|---:|---:|")
        for name, label in CASES:
            c = cases[name]
            if not c or c.get("server_io_syscalls") is None:
                continue
            n = max(1, c["requests"])
            redis_io = f"{c['redis_io_syscalls'] / n:.2f}" if c.get("redis_io_syscalls") is not None else "–"
            redis_sw = f"{c['redis_switches'] / n:.3f}" if c.get("redis_switches") is not None else "–"
            L.append(f"| {label} | {c['server_io_syscalls'] / n:.2f} | {c['server_switches'] / n:.3f} | {redis_io} | {redis_sw} |")
        L.append("")

    if any(c and c.get("server_user_us_per_req") is not None for c in cases.values()):
        L.append("## User and system time per request")
        L.append("")
        L.append("The server CPU column split in two, from the same /proc/PID/stat reads (utime and stime, same window): the "
                 "kernel's part is mostly loopback TCP and epoll, which every server here pays alike, so the user part is "
                 "where one server's own code differs from another's (issue 17's `/healthz` line).")
        L.append("")
        L.append("| Case | user µs/req | system µs/req | user − SwiftNIO floor's |")
        L.append("|---|---:|---:|---:|")
        floor = cases.get("nio-floor")
        floor_user = floor.get("server_user_us_per_req") if floor else None
        for name, label in CASES:
            c = cases[name]
            if not c or c.get("server_user_us_per_req") is None:
                continue
            user = c["server_user_us_per_req"]
            above = f"{user - floor_user:+.2f}" if floor_user is not None and name != "nio-floor" else "–"
            L.append(f"| {label} | {user:.2f} | {c['server_cpu_us_per_req'] - user:.2f} | {above} |")
        L.append("")

    peer = cases.get(PEER)
    if peer:
        L.append("## Usher ÷ the same-work peer")
        L.append("")
        L.append("The peer (Benchmarks/load/usher-peer.lua in nginx + LuaJIT, one worker on CPU 0) does per request what "
                 "Usher's `/v` does with its in-process cache off: verifies the HS256 token (FFI `HMAC()` from libcrypto, "
                 "cjson for header and claims), GETs `usher:gen:{id}` from the same redis-server over a keepalive "
                 "cosocket, presigns with SigV4 (FFI `SHA256()`/`HMAC()`), answers 302 with Usher's Cache-Control. Its "
                 "Location was checked against botocore's before the run, as Usher's was. It verifies every token "
                 "(Usher's per-loop token cache skips the HMAC for a token seen before), sends one unpipelined GET per "
                 "request (Usher batches a tick's GETs in one write), and counts no plays. Ratios of this run: req/s "
                 "above 1 and CPU below 1 favour Usher.")
        L.append("")
        L.append("| Usher case | req/s ÷ peer | server CPU µs/req (Usher / peer) | ÷ peer | server + Redis CPU µs/req (Usher / peer) | ÷ peer |")
        L.append("|---|---:|---:|---:|---:|---:|")

        def both(c):
            return c["server_cpu_us_per_req"] + (c["redis_cpu_us_per_req"] or 0)

        for name, label in USHER_VS_PEER:
            c = cases.get(name)
            if not c:
                continue
            L.append(f"| {label} | {c['rps'] / peer['rps']:.2f} | {c['server_cpu_us_per_req']:.1f} / "
                     f"{peer['server_cpu_us_per_req']:.1f} | {c['server_cpu_us_per_req'] / peer['server_cpu_us_per_req']:.2f} | "
                     f"{both(c):.1f} / {both(peer):.1f} | {both(c) / both(peer):.2f} |")
        L.append("")

    counted = [(name, label, cases[name]["counts"]) for name, label in CASES if cases[name] and cases[name].get("counts")]
    if counted:
        L.append("## Syscalls per request")
        L.append("")
        L.append(f"Two short passes per case after its timed run ({meta.get('count_duration', '3s')} of the same wrk "
                 "load each, never during the timed run), each total divided by that pass's requests (wrk's count). "
                 "Usher: every thread of the process; nginx and the peer: the one worker; Redis: the redis-server(s) "
                 "the case reads. Connection set-up (64 accepts and closes) falls inside each pass.")
        L.append("")
        L.append("- **perf stat** (`perf stat -e raw_syscalls:sys_enter,context-switches -p PID`): every syscall, recv/send "
                 "and epoll included, counted by the kernel at nearly full speed (the pass's own req/s says how near).")
        L.append("- **strace** (`strace -c -f -p PID`, the server only): which syscalls. strace stops the server at every "
                 "syscall, so it runs slower, and where the count depends on how many requests are ready per wake-up "
                 "(epoll_wait; Usher's one Redis write per event-loop tick; the peer's wait for each Redis reply) the "
                 "mix differs from full speed: read it beside the perf stat total.")
        L.append("")
        if meta.get("pmu"):
            L.append("Instructions are counted in the perf stat pass (this machine has a PMU).")
        else:
            L.append("Instructions per request: not measured. This VM has no PMU: `perf stat -e instructions true` "
                     "answers `<not supported>` (software events and tracepoints only).")
        L.append("")
        pmu = bool(meta.get("pmu"))
        L.append("| Case | pass req/s | syscalls/req | context switches/req | Redis syscalls/req | server + Redis syscalls/req |"
                 + (" instructions/req |" if pmu else ""))
        L.append("|---|---:|---:|---:|---:|---:|" + ("---:|" if pmu else ""))

        def num(v, fmt):
            return format(v, fmt) if v is not None else "–"

        for name, label, c in counted:
            p = c.get("perf")
            if not p:
                continue
            both = p["syscalls"] + (p["redis_syscalls"] or 0) if p["syscalls"] is not None else None
            L.append(f"| {label} | {p['rps']:,.0f} | {num(p['syscalls'], '.2f')} | {num(p['switches'], '.3f')} | "
                     f"{num(p['redis_syscalls'], '.2f')} | {num(both, '.2f')} |"
                     + (f" {num(p['instructions'], ',.0f')} |" if pmu else ""))
        L.append("")
        L.append("| Case | req/s under strace | syscalls/req | per request, by syscall |")
        L.append("|---|---:|---:|---|")
        for name, label, c in counted:
            st = c.get("strace")
            if not st:
                continue
            L.append(f"| {label} | {st['rps']:,.0f} | {st['total']:.2f} | {top_calls(st['calls'])} |")
        L.append("")
        probed = [(name, label, c["calls"]) for name, label, c in counted if c.get("calls")]
        if probed:
            L.append("### Runtime calls per request")
            L.append("")
            L.append("A third pass, through uprobes (`perf probe` on libswiftCore's `swift_retain`, `swift_release`, "
                     "`swift_beginAccess` and libc's `malloc`, counted by `perf stat`): every call traps, so the counts are "
                     "exact and the pass runs slower (over the case's first 100 paths, so that the in-process cache stays as warm "
                     "as in the timed run). Where instructions cannot be counted, this is the runtime work "
                     "they would show: reference counting, dynamic exclusivity checks, heap allocations. For nginx, "
                     "`malloc` only (it allocates from its own pools).")
            L.append("")
            L.append("| Case | pass req/s | swift_retain | swift_release | swift_beginAccess | malloc |")
            L.append("|---|---:|---:|---:|---:|---:|")
            for name, label, c in probed:
                L.append(f"| {label} | {c['rps']:,.0f} | {num(c.get('swift_retain'), '.1f')} | {num(c.get('swift_release'), '.1f')} | "
                         f"{num(c.get('swift_beginAccess'), '.1f')} | {num(c.get('malloc'), '.2f')} |")
            L.append("")
            L.append("Connection set-up (64 accepts, each with its own allocations) falls inside the pass, so malloc per "
                     "request carries a few hundredths from it; the `Edge` micro-benchmark counts a request's own.")
            L.append("")
        bad = [f"{name} ({sum(c[k]['unexpected'] for k in c)})" for name, _, c in counted if any(c[k]["unexpected"] for k in c)]
        if bad:
            L.append(f"Responses other than expected during the counting passes: {', '.join(bad)}.")
            L.append("")

    L.append("## Targets")
    L.append("")
    L.append("| Target | Measured | |")
    L.append("|---|---:|---|")

    def target(label, value, ok):
        L.append(f"| {label} | {value} | {'met' if ok else '**missed**'} |")

    off, on = cases.get("usher-cache-off"), cases.get("usher-cache-on")
    if base_rps and off:
        target("Usher cache off ≥ 0.35 × nginx secure_link req/s", f"{off['rps'] / base_rps:.2f} ×", off["rps"] / base_rps >= 0.35)
    cluster = cases.get("usher-cluster-cache-off")
    if off and cluster:
        target("Usher on a Redis Cluster ≥ 0.9 × one Redis node req/s (cache off)", f"{cluster['rps'] / off['rps']:.2f} ×",
               cluster["rps"] / off["rps"] >= 0.9)
    one_node = cases.get("usher-one-node-cluster-cache-off")
    if off and one_node:
        target("Usher's cluster routing alone (one-node cluster) ≥ 0.9 × one Redis node req/s (cache off)",
               f"{one_node['rps'] / off['rps']:.2f} ×", one_node["rps"] / off["rps"] >= 0.9)
    if base_rps and on:
        target("Usher cache on ≥ 0.5 × nginx secure_link req/s", f"{on['rps'] / base_rps:.2f} ×", on["rps"] / base_rps >= 0.5)
    for c, label in ((off, "cache off"), (on, "cache on")):
        if c:
            target(f"Usher {label} p99 ≤ 3 ms at 64 connections", f"{fmt_ms(c['p'][99.0])} ms", c["p"][99.0] <= 3000)
    for c, label in ((off, "cache off"), (on, "cache on")):
        if c and c.get("vm_hwm_kb"):
            target(f"Usher {label} RSS ≤ 64 MiB (VmHWM; VmRSS after the run {c['vm_rss_kb'] / 1024:.1f} MiB)",
                   f"{c['vm_hwm_kb'] / 1024:.1f} MiB", c["vm_hwm_kb"] <= 64 * 1024)
    for c, label in ((off, "cache off"), (on, "cache on")):
        if c and c["unexpected"]:
            L.append(f"| Usher {label}: all responses 302 | {c['unexpected']} others ({c['unexpected_codes']}); sample: `{c['unexpected_sample'][:120]}` | **missed** |")
    L.append("")

    bench_path = os.path.join(d, "redis-benchmark.tsv")
    if os.path.exists(bench_path):
        redis_rows = {}
        with open(bench_path) as f:
            for line in f:
                name, depth, ops = line.split("\t")
                redis_rows[(name, int(depth))] = float(ops)
        L.append("## Redis beside it (same run)")
        L.append("")
        L.append("`redis-benchmark -c 64 -t get` from CPU 1 against the same redis-server(s) on CPU 0, after the cases "
                 "above on them: what a Redis core does on its own, next to what the gateway asks of it.")
        L.append("")
        L.append("| Redis | GET/s, 16-deep pipelines | GET/s, one round trip each |")
        L.append("|---|---:|---:|")
        for name, label in (("one-node", "one node"), ("cluster", "the cluster (3 masters + 3 replicas, one core)")):
            if (name, 16) in redis_rows:
                L.append(f"| {label} | {redis_rows[(name, 16)]:,.0f} | {redis_rows.get((name, 1), 0):,.0f} |")
        L.append("")
        for case, name in (("usher-cache-off", "one-node"), ("usher-cluster-cache-off", "cluster")):
            c = cases.get(case)
            if c and c.get("redis_cpu_us_per_req") and (name, 16) in redis_rows:
                per_core = 1e6 / c["redis_cpu_us_per_req"]
                L.append(f"- {case}: Redis spent {c['redis_cpu_us_per_req']:.2f} µs of CPU per gateway request, so a Redis "
                         f"core carries about {per_core:,.0f} such requests/s, {per_core / c['rps']:.1f} × this gateway "
                         f"core's {c['rps']:,.0f} req/s (redis-benchmark's pipelined GETs: "
                         f"{redis_rows[(name, 16)] / c['rps']:.0f} ×).")
        L.append("")

    L.append("## What p99 ≤ 3 ms asks of throughput")
    L.append("")
    conns = meta.get("connections", 64)
    rows = []
    for name, label in CASES:
        c = cases[name]
        if not c:
            continue
        mean_ms = conns / c["rps"] * 1000
        ratio = c["p"][99.0] / 1000 / mean_ms
        need = conns * ratio / 0.003
        rows.append((label, mean_ms, ratio, need))
    ratios = [r[2] for r in rows] or [0]
    L.append(f"wrk keeps {conns} requests in flight, so the mean latency is fixed by the rate (Little's law: "
             f"connections ÷ req/s), and p99 sits some ratio above that mean: {min(ratios):.1f} to {max(ratios):.1f} "
             "in this run, nginx included. At each case's own ratio, p99 ≤ 3 ms needs at least:")
    L.append("")
    L.append("| Case | mean ms (connections ÷ req/s) | p99 ÷ mean | req/s for p99 ≤ 3 ms | CPU µs/req that allows |")
    L.append("|---|---:|---:|---:|---:|")
    for label, mean_ms, ratio, need in rows:
        L.append(f"| {label} | {mean_ms:.2f} | {ratio:.2f} | {need:,.0f} | {1e6 / need:.1f} |")
    L.append("")
    tail = {name: c["p"][99.0] / 1000 / (conns / c["rps"] * 1000) for name, c in cases.items() if c}
    if all(n in tail for n in ("usher-cache-on", "nio-floor-at-usher-cost", "nginx-secure-link")):
        base = tail["nginx-secure-link"]
        L.append(f"The tail's shape at Usher's cost: p99 ÷ mean is {tail['usher-cache-on']:.2f} for Usher's cached `/v` "
                 f"({tail['usher-cache-on'] / base:.2f} × nginx `secure_link`'s {base:.2f}) and "
                 f"{tail['nio-floor-at-usher-cost']:.2f} for the floor spun to the same CPU per request "
                 f"({tail['nio-floor-at-usher-cost'] / base:.2f} × nginx's), against {tail.get('nio-floor', 0):.2f} for "
                 f"the floor unspun. Usher's own part is its ratio over the spun floor's, "
                 f"{tail['usher-cache-on'] / tail['nio-floor-at-usher-cost']:.2f} ×.")
        L.append("")
        # The same ratio with wrk's own mean (the mean of the distribution p99 comes from): it differs from Little's
        # where wrk, not the server, is the busier side, since a request's time inside wrk is not in its latency.
        own = {name: c["p"][99.0] / c["latency_us"]["mean"] for name, c in cases.items() if c}
        share = {name: c["latency_us"]["mean"] / 1000 / (conns / c["rps"] * 1000) for name, c in cases.items() if c}
        L.append(f"Read with wrk's own mean latency instead of Little's, p99 ÷ mean is {own['usher-cache-on']:.2f} for "
                 f"Usher's cached `/v` and {own['nginx-secure-link']:.2f} for nginx `secure_link` "
                 f"({own['usher-cache-on'] / own['nginx-secure-link']:.2f} ×); the spun floor {own['nio-floor-at-usher-cost']:.2f}. "
                 f"The two readings part where wrk is the busier side: wrk's mean is {share['nginx-secure-link']:.2f} "
                 f"of the cycle (Little's mean) for nginx `secure_link`, {share['usher-cache-on']:.2f} for Usher; the "
                 f"rest of a cycle is spent inside wrk, before it sends, where no latency is measured.")
        L.append("")

    if e2e:
        L.append("## End to end: time to the first video byte")
        L.append("")
        L.append(f"{e2e['requests']} requests (after a warm-up) from one Python `http.client` client on CPU 1 with keep-alive "
                 f"connections to Usher (cache on) and to SeaweedFS: GET `/v/{{id}}?token=…`, follow the `Location`, stop "
                 f"at the first body byte. {e2e['ids']} ids with {', '.join(str(s) for s in e2e['object_bytes'])}-byte objects; "
                 f"SeaweedFS is not pinned. Failures: {e2e['failures']}.")
        L.append("")
        L.append("| | p50 ms | p99 ms |")
        L.append("|---|---:|---:|")
        L.append(f"| first byte (302 + S3 GET) | {e2e['ttfb_ms']['p50']:.2f} | {e2e['ttfb_ms']['p99']:.2f} |")
        L.append(f"| of which the 302 from Usher | {e2e['redirect_ms']['p50']:.2f} | {e2e['redirect_ms']['p99']:.2f} |")
        L.append(f"| of which S3 to first byte | {e2e['origin_first_byte_ms']['p50']:.2f} | {e2e['origin_first_byte_ms']['p99']:.2f} |")
        L.append("")
    for name in ("usher-cache-off", "usher-cache-on"):
        p = os.path.join(d, f"{name}.metrics.txt")
        if os.path.exists(p):
            with open(p) as f:
                text = f.read().strip()
            if text:
                L.append(f"Cache counters of Usher after `{name}` (whole process life, warm-up included):")
                L.append("")
                L.append("```")
                L.append(text)
                L.append("```")
                L.append("")
    L.append("![latency by percentile](latency.png)")
    L.append("")
    with open(a.md, "w") as f:
        f.write("\n".join(L))
    print(f"wrote {a.md}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import math

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, label in CASES:
        c = cases[name]
        if not c:
            continue
        ps = sorted(p for p in c["p"] if p < 100)
        xs = [-math.log10(1 - p / 100) for p in ps]
        ys = [c["p"][p] / 1000 for p in ps]
        ax.plot(xs, ys, label=f"{label.replace('`', '')} ({c['rps'] / 1000:.1f}k req/s)")
    ticks = [0, 50, 90, 99, 99.9, 99.99, 99.999]
    ax.set_xticks([-math.log10(1 - t / 100) for t in ticks])
    ax.set_xticklabels([f"p{t:g}" for t in ticks])
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    ax.axhline(3, color="grey", linestyle=":", linewidth=1)
    ax.text(0.02, 3, " 3 ms target", va="bottom", color="grey", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"wrk -t1 -c64, server on one core ({meta['cpu_model']}), {meta['date'][:10]}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.png, dpi=110)
    print(f"wrote {a.png}")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("prepare"); s.add_argument("dir"); s.add_argument("--ids", type=int, default=10000)
    s.add_argument("--token-ttl", type=int, default=7200)
    s = sub.add_parser("wait"); s.add_argument("url"); s.add_argument("--timeout", type=float, default=30)
    s = sub.add_parser("smoke"); s.add_argument("base"); s.add_argument("path"); s.add_argument("--presigned", action="store_true")
    s = sub.add_parser("location"); s.add_argument("base"); s.add_argument("path")
    s = sub.add_parser("decisions"); s.add_argument("base"); s.add_argument("dir"); s.add_argument("--verbose", action="store_true")
    s = sub.add_parser("presign-fixed"); s.add_argument("base"); s.add_argument("--count", type=int, default=600)
    s = sub.add_parser("upload"); s.add_argument("dir"); s.add_argument("--count", type=int, default=16)
    s.add_argument("--size", type=int, default=1 << 20)
    s = sub.add_parser("e2e"); s.add_argument("base"); s.add_argument("dir"); s.add_argument("--count", type=int, default=16)
    s.add_argument("--requests", type=int, default=1000); s.add_argument("--warmup", type=int, default=50)
    s.add_argument("--out", required=True)
    s = sub.add_parser("metrics"); s.add_argument("url")
    s = sub.add_parser("report"); s.add_argument("dir"); s.add_argument("--md", required=True); s.add_argument("--png", required=True)
    s = sub.add_parser("spin"); s.add_argument("dir"); s.add_argument("case"); s.add_argument("floor")
    a = p.parse_args()
    return {"prepare": cmd_prepare, "wait": cmd_wait, "smoke": cmd_smoke, "location": cmd_location,
            "decisions": cmd_decisions, "presign-fixed": cmd_presign_fixed, "upload": cmd_upload, "e2e": cmd_e2e,
            "metrics": cmd_metrics, "report": cmd_report, "spin": cmd_spin}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
