"""Opens player pages in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) and reports
whether their <video> plays, seeks and plays on, with the Range requests the browser sent.

stdin:  {"pages": [{"url": ..., "seek": bool, "expect_failure": bool, "screenshot": path or null}], "timeout": seconds}
stdout: {"results": [{"url", "played", "ready_state", "times", "seeked", "after_seek", "error", "range_requests"}]}
"""
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

STATE = """const v = document.getElementById("player");
return {ready: v.readyState, time: v.currentTime, duration: v.duration, paused: v.paused,
        error: v.error ? v.error.code : null, network: v.networkState};"""


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                     "--autoplay-policy=no-user-gesture-required", "--window-size=900,700"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(driver, condition, timeout):
    deadline = time.monotonic() + timeout
    state = driver.execute_script(STATE)
    while time.monotonic() < deadline:
        if condition(state):
            return state, True
        time.sleep(0.1)
        state = driver.execute_script(STATE)
    return state, condition(state)


def range_requests(driver):
    """Requests the page sent with a Range header (a player's media requests), with the status each got,
    from Chromium's network log. URLs are cut at the query: presigned signatures stay out of the output."""
    ranges, statuses, urls = {}, {}, {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSentExtraInfo":
            headers = {k.lower(): v for k, v in params.get("headers", {}).items()}
            if "range" in headers:
                ranges[params["requestId"]] = headers["range"]
        elif method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"].split("?")[0]
        elif method == "Network.responseReceived":
            statuses[params["requestId"]] = params["response"]["status"]
            urls[params["requestId"]] = params["response"]["url"].split("?")[0]
    return [{"url": urls.get(i, ""), "range": r, "status": statuses.get(i)} for i, r in ranges.items()]


def play(driver, page, timeout):
    result = {"url": page["url"], "played": False, "seeked": False, "after_seek": False, "times": []}
    driver.get(page["url"])
    if page.get("expect_failure"):
        state, failed = wait(driver, lambda s: s["error"] is not None, timeout)
        result.update(ready_state=state["ready"], error=state["error"], times=[state["time"]])
        return result
    state, playing = wait(driver, lambda s: s["ready"] >= 3 and s["time"] > 0.3 and s["error"] is None, timeout)
    result["ready_state"] = state["ready"]
    result["error"] = state["error"]
    result["duration"] = state["duration"]
    if playing:
        first = state["time"]
        time.sleep(1.0)
        later = driver.execute_script(STATE)
        result["times"] = [first, later["time"]]
        result["played"] = later["time"] > first and later["error"] is None
    if page.get("seek") and result["played"]:
        target = state["duration"] / 2
        driver.execute_script("document.getElementById('player').currentTime = arguments[0];", target)
        state, ok = wait(driver, lambda s: s["time"] >= target and s["ready"] >= 3, timeout)
        result["seeked"] = ok
        result["seek_target"] = target
        if ok:
            first = state["time"]
            time.sleep(1.0)
            later = driver.execute_script(STATE)
            result["after_seek"] = later["time"] > first and later["error"] is None
            result["times"] += [first, later["time"]]
    if page.get("screenshot"):
        time.sleep(0.3)
        driver.save_screenshot(page["screenshot"])
    result["range_requests"] = range_requests(driver)
    return result


def main():
    request = json.load(sys.stdin)
    timeout = float(request.get("timeout", 20))
    driver = browser()
    try:
        results = [play(driver, page, timeout) for page in request["pages"]]
    finally:
        driver.quit()
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
