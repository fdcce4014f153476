"""A week of plays for three demo videos, replayed day by day, then read back through the stats API and plotted.

  plays_week.py --usher BIN --png FILE [--md FILE]

Each of the last seven UTC days is replayed by a gateway (`usher serve --roles gateway`) whose clock is set to noon of
that day with libfaketime (Debian's `faketime`; the monotonic clock is left alone, so timers behave): viewers with
their own token (`sub`) play the videos, some through a share link, on a curve like a launch (a peak, then a tail).
SIGTERM makes each gateway flush what it counted. Then a gateway on the real clock answers
`GET /v1/generations/{id}/stats` for the week, which must show every play exactly (the viewers are HyperLogLog
estimates, checked within 2 %); the figures are printed, optionally written as Markdown, and plotted.

Needs the stack running (deploy/local/stack start; run with its venv's Python after `eval "$(deploy/local/stack env)"`),
faketime, and matplotlib (pip) in that venv.
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import jwt

KID = "week"
VIDEOS = ["demo-week-launch", "demo-week-tutorial", "demo-week-teaser"]
# Plays per day (oldest first) and how many distinct viewers share them, per video.
CURVES = {
    "demo-week-launch": [0, 0, 40, 320, 210, 120, 80],
    "demo-week-tutorial": [30, 45, 50, 60, 55, 70, 65],
    "demo-week-teaser": [90, 60, 30, 15, 10, 5, 5],
}
VIEWER_SHARE = 0.6  # distinct viewers ≈ this fraction of a day's plays (the rest are repeat plays)
SHARED_EVERY = 4  # every 4th play goes through the video's share link


def fail(message):
    print(f"plays-week: {message}", file=sys.stderr)
    sys.exit(1)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def wait_ready(port, deadline=30):
    start = time.time()
    while time.time() - start < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    fail(f"no gateway ready on port {port} after {deadline} s")


def serve(usher, env, roles, port, fake_day=None):
    command = [usher, "serve", "--roles", roles]
    process_env = dict(env, USHER_LISTEN=f"127.0.0.1:{port}", USHER_APP_LISTEN=f"127.0.0.1:{port + 1}")
    if fake_day is not None:
        command = ["faketime", "-f", f"@{fake_day.isoformat()} 12:00:00"] + command
        process_env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    log = open(os.path.join(env["WEEK_DIR"], f"server-{fake_day or 'now'}.log"), "w")
    process = subprocess.Popen(command, env=process_env, stdout=log, stderr=subprocess.STDOUT)
    wait_ready(port)
    return process


def stop(process):
    # Under `faketime` Usher is the wrapper's child: the SIGTERM goes to Usher, and the wrapper returns its status.
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    for pid in children or [str(process.pid)]:
        os.kill(int(pid), signal.SIGTERM)
    if process.wait(timeout=60) != 0:
        fail(f"a gateway exited with {process.returncode}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--usher", required=True)
    parser.add_argument("--png", required=True)
    parser.add_argument("--md")
    parser.add_argument("--port", type=int, default=18480)
    a = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    work = tempfile.mkdtemp(prefix="usher-week.")
    key = os.urandom(32)
    with open(os.path.join(work, "jwks.json"), "w") as out:
        json.dump({"keys": [{"kty": "oct", "kid": KID, "alg": "HS256", "k": b64url(key)}]}, out)
    admin = b64url(os.urandom(24))
    env = dict(os.environ, WEEK_DIR=work, USHER_TOKEN_KEYS=os.path.join(work, "jwks.json"), USHER_ADMIN_TOKENS=admin,
               USHER_EVENT_LOOPS="1")

    # The videos: fresh ids each run (a run's counts are its own), registered as mirrored objects.
    suffix = b64url(os.urandom(4)).replace("_", "x").replace("-", "y")
    ids = {name: f"{name}-{suffix}" for name in VIDEOS}
    with open(os.path.join(work, "import.jsonl"), "w") as out:
        for request_id in ids.values():
            out.write(json.dumps({"request_id": request_id, "owner": "demo", "visibility": "private",
                                  "object_key": f"videos/{request_id}.mp4"}) + "\n")
    subprocess.run([a.usher, "import", os.path.join(work, "import.jsonl")], env=env, check=True, stdout=subprocess.DEVNULL)
    shares = {}
    for name, request_id in ids.items():
        out = subprocess.run([a.usher, "share", "create", request_id, "--ttl", str(30 * 86400)], env=env, check=True,
                             capture_output=True, text=True).stdout
        shares[name] = out.strip().split()[-1].rstrip("/").rsplit("/", 1)[-1]

    today = datetime.datetime.now(datetime.timezone.utc).date()
    days = [today - datetime.timedelta(days=6 - i) for i in range(7)]
    rng = random.Random(18)
    expected = {name: [] for name in VIDEOS}
    for index, day in enumerate(days):
        noon = int(datetime.datetime(day.year, day.month, day.day, 12, tzinfo=datetime.timezone.utc).timestamp())
        gateway = serve(a.usher, env, "gateway", a.port, fake_day=day)
        connection = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
        for name in VIDEOS:
            plays = CURVES[name][index]
            viewers = max(1, int(plays * VIEWER_SHARE))
            shared, identities = 0, set()
            for play in range(plays):
                # Each viewer plays once, then some play again.
                viewer = f"{day.isoformat()}-{play if play < viewers else rng.randrange(viewers)}"
                if play % SHARED_EVERY == SHARED_EVERY - 1:
                    # Through the link, without a token: the viewer is the address and User-Agent.
                    path, headers, shared = f"/s/{shares[name]}", {"User-Agent": f"week-{viewer}"}, shared + 1
                    identities.add(("agent", viewer))
                else:
                    token = jwt.encode({"own": "demo", "sub": viewer, "aud": "usher", "iat": noon - 60, "exp": noon + 3600},
                                       key, algorithm="HS256", headers={"kid": KID})
                    path, headers = f"/v/{ids[name]}", {"Authorization": f"Bearer {token}"}
                    identities.add(("sub", viewer))
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 302:
                    fail(f"{day} {path}: {response.status}")
            expected[name].append((plays, len(identities), shared))
        connection.close()
        stop(gateway)
        print(f"{day}: " + ", ".join(f"{name} {CURVES[name][index]}" for name in VIDEOS))

    reader = serve(a.usher, env, "gateway,webhook", a.port)
    stats = {}
    for name, request_id in ids.items():
        request = urllib.request.Request(
            f"http://127.0.0.1:{a.port + 1}/v1/generations/{request_id}/stats?from={days[0]}&to={days[-1]}",
            headers={"Authorization": f"Bearer {admin}"})
        stats[name] = json.load(urllib.request.urlopen(request))
    stop(reader)

    lines = ["| day | " + " | ".join(f"{name}: plays (share) / viewers" for name in VIDEOS) + " |",
             "|---|" + "---|" * len(VIDEOS)]
    worst = 0.0
    for index, day in enumerate(days):
        cells = []
        for name in VIDEOS:
            got = stats[name]["days"][index]
            plays, distinct, shared = expected[name][index]
            if got["day"] != day.isoformat() or got["plays"] != plays or got["share_plays"] != shared:
                fail(f"{name} {day}: stats say {got}, played {plays} ({shared} shared)")
            if abs(got["viewers"] - distinct) > max(1, 0.02 * distinct):
                fail(f"{name} {day}: stats say {got['viewers']} viewers, there were {distinct}")
            worst = max(worst, abs(got["viewers"] - distinct) / distinct) if distinct else worst
            cells.append(f"{got['plays']} ({got['share_plays']}) / {got['viewers']}")
        lines.append(f"| {day} | " + " | ".join(cells) + " |")
    totals = " | ".join(f"{stats[n]['total']['plays']} ({stats[n]['total']['share_plays']}) / {stats[n]['total']['viewers']}"
                        for n in VIDEOS)
    lines.append(f"| total | {totals} |")
    table = "\n".join(lines) + f"\n\nEvery play counted exactly; viewers within {worst:.1%} of the distinct viewers played."
    print(table)

    figure, axis = plt.subplots(figsize=(8, 3.6))
    bottom = [0] * len(days)
    labels = [d.strftime("%a %d %b") for d in days]
    for name in VIDEOS:
        plays = [day["plays"] for day in stats[name]["days"]]
        axis.bar(labels, plays, bottom=bottom, label=name.replace("demo-week-", ""))
        bottom = [b + p for b, p in zip(bottom, plays)]
    viewers = [sum(stats[n]["days"][i]["viewers"] for n in VIDEOS) for i in range(len(days))]
    axis.plot(labels, viewers, color="black", marker="o", linewidth=1.2, label="viewers (sum of videos)")
    axis.set_ylabel("plays per day")
    axis.set_title("Plays per day, from GET /v1/generations/{id}/stats")
    axis.legend(fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(a.png, dpi=110)
    print(f"wrote {a.png}")
    if a.md:
        with open(a.md, "w") as out:
            out.write(f"# A week of plays, {days[0]} to {days[-1]}\n\n")
            out.write("`deploy/local/plays-week` (each day replayed by a gateway under libfaketime, read back through "
                      "`GET /v1/generations/{id}/stats` on the real clock). Plays are exact; viewers are HyperLogLog "
                      "estimates.\n\n" + table + "\n\n![plays per day](" + os.path.basename(a.png) + ")\n")
        print(f"wrote {a.md}")


if __name__ == "__main__":
    main()
