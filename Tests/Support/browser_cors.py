"""CONTRACT § CORS in a real browser: pages served from other origins than the edge read /v through the preflight,
the 302 and the bucket's own CORS rules, in headless Chromium (the driver of browser_play.py).

stdin:  {"edge": "http://127.0.0.1:P", "port": N, "allowed_host": "127.0.0.2", "unlisted_host": "127.0.0.3",
         "video": "/v/ID", "token": T, "timeout": seconds}
        The page is served on http://{allowed_host}:{port} (listed in USHER_CORS_ORIGINS) and on
        http://{unlisted_host}:{port} (not listed).
stdout: {"canvas": {...}, "range_fetch": {...}, "bad_token": {...}, "missing_token": {...},
         "unlisted_fetch": {...}, "unlisted_bad_token": {...}}
"""
import http.server
import json
import sys
import threading

from browser_play import browser

PAGE = b"<!doctype html><html><head><meta charset=utf-8><title>cors</title></head><body></body></html>"

# (a) <video crossorigin="anonymous"> through the 302, one frame drawn to a canvas and read back: a tainted canvas
# throws a SecurityError from getImageData.
CANVAS = """
const [src, timeout, done] = arguments;
const v = document.createElement('video');
v.crossOrigin = 'anonymous'; v.muted = true; v.preload = 'auto'; v.src = src;
document.body.appendChild(v);
let finished = false;
const finish = (r) => { if (!finished) { finished = true; done(r); } };
let last = null;
// 'loadeddata' can come before a frame is ready to draw: headless Chromium once drew nothing at all (every byte 0,
// not even opaque black) in CI. An empty draw is tried again every 50 ms; a frame that stays empty until the
// timeout is reported as drawn and blank, for the test to refuse.
const draw = () => {
  if (finished) return;
  try {
    const c = document.createElement('canvas'); c.width = 64; c.height = 36;
    const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 36);
    const d = g.getImageData(0, 0, 64, 36).data;
    let sum = 0; for (const x of d) sum += x;
    last = {drawn: true, pixel_sum: sum, width: v.videoWidth, height: v.videoHeight};
    if (sum > 0) finish(last); else setTimeout(draw, 50);
  } catch (e) { finish({drawn: false, error: e.name + ': ' + e.message}); }
};
v.addEventListener('loadeddata', draw);
v.addEventListener('error', () => finish({drawn: false, error: 'media error ' + (v.error && v.error.code)}));
setTimeout(() => finish(last || {drawn: false, error: 'timeout'}), timeout);
"""

# (b) fetch() with a bearer token and a Range: preflight, 302, then the bucket's 206.
RANGE_FETCH = """
const [url, token, done] = arguments;
fetch(url, {headers: {'Authorization': 'Bearer ' + token, 'Range': 'bytes=0-1023'}})
  .then(async (r) => {
    const bytes = new Uint8Array(await r.arrayBuffer());
    done({status: r.status, redirected: r.redirected, final_host: new URL(r.url).host,
          hex: Array.from(bytes).map((b) => b.toString(16).padStart(2, '0')).join('')});
  })
  .catch((e) => done({error: String(e)}));
"""

# (c) an error answer the page can read: status, problem+json body and WWW-Authenticate. `no-store`: the 302 that
# (b) got for the same URL is `Cache-Control: private, max-age=…`, which the browser may reuse for this request.
PROBLEM_FETCH = """
const [url, headers, done] = arguments;
fetch(url, {headers: headers, cache: 'no-store'})
  .then(async (r) => done({status: r.status, content_type: r.headers.get('Content-Type'),
                           www_authenticate: r.headers.get('WWW-Authenticate'), body: await r.text()}))
  .catch((e) => done({error: String(e)}));
"""


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


def serve(host, port):
    server = http.server.ThreadingHTTPServer((host, port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    request = json.load(sys.stdin)
    edge, port, timeout = request["edge"], request["port"], float(request.get("timeout", 20))
    video, token = edge + request["video"], request["token"]
    servers = [serve(request["allowed_host"], port), serve(request["unlisted_host"], port)]
    driver = browser()
    driver.set_script_timeout(timeout + 5)
    results = {}
    try:
        driver.get(f"http://{request['allowed_host']}:{port}/")
        results["canvas"] = driver.execute_async_script(CANVAS, f"{video}?token={token}", timeout * 1000)
        results["range_fetch"] = driver.execute_async_script(RANGE_FETCH, video, token)
        results["bad_token"] = driver.execute_async_script(PROBLEM_FETCH, f"{video}?token=not.a.token", {})
        results["missing_token"] = driver.execute_async_script(PROBLEM_FETCH, video, {})
        driver.get(f"http://{request['unlisted_host']}:{port}/")
        results["unlisted_fetch"] = driver.execute_async_script(RANGE_FETCH, video, token)
        results["unlisted_bad_token"] = driver.execute_async_script(PROBLEM_FETCH, f"{video}?token=not.a.token", {})
    finally:
        driver.quit()
        for server in servers:
            server.shutdown()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
