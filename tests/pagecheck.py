"""Check a built HTML page the way a reader's browser sees it (headless Chromium).

For one page: the URLs it requested (from Chromium's net log), whether its math was typeset by
MathJax, whether a notebook cell shows an error, and whether every referenced image exists.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.math = [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        if "math" in (a.get("class") or "").split():
            self.math += 1


def _run(args: list[str], timeout: int = 90) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


def _load_netlog(path: Path) -> dict:
    text = path.read_text(errors="replace") if path.exists() else ""
    try:
        return json.loads(text)
    except json.JSONDecodeError:          # a log cut short at exit lacks its closing brackets
        return json.loads(text.rstrip().rstrip(",") + "]}") if text else {"events": [], "constants": {}}


def external_requests(netlog: Path) -> list[str]:
    """http(s) URLs the *page* requested from outside this machine, from a --log-net-log file.

    Chromium's own background services (update checks, accounts) also appear in the log; they
    start with initiator "not an origin", whereas everything a page loads has the page's origin
    ("null" for a file:// page) as initiator.
    """
    log = _load_netlog(netlog)
    types = {v: k for k, v in log.get("constants", {}).get("logEventTypes", {}).items()}
    out = set()
    for e in log.get("events", []):
        p = e.get("params") or {}
        if types.get(e.get("type")) != "URL_REQUEST_START_JOB" or "url" not in p:
            continue
        if p.get("initiator") == "not an origin":
            continue
        u = urlparse(p["url"])
        if u.scheme in ("http", "https", "ws", "wss") and u.hostname not in ("localhost", "127.0.0.1", "::1"):
            out.add(p["url"])
    return sorted(out)


def check_page(page: Path, screenshot: Path | None = None) -> dict:
    """Load ``page`` in headless Chromium; return what a reader would notice."""
    page = page.resolve()
    html = page.read_text(errors="replace")
    refs = _Refs()
    refs.feed(html)
    with tempfile.TemporaryDirectory() as tmp:
        netlog = Path(tmp) / "net.json"
        dom = _run([f"--log-net-log={netlog}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri()]).stdout
        external = external_requests(netlog)
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        _run(["--window-size=1280,1600", "--virtual-time-budget=10000", f"--screenshot={screenshot}", page.as_uri()])
    missing = []
    for src in refs.images:
        p = urlparse(src)
        if p.scheme in ("data",):
            continue
        if p.scheme in ("http", "https"):
            missing.append(src)          # an external image is itself a failure offline
            continue
        if not (page.parent / unquote(p.path)).exists():
            missing.append(src)
    typeset = dom.count("<mjx-container")
    errors = re.findall(r'class="[^"]*\b(?:output (?:traceback|error)|ansi-red-fg)\b', html)
    return {"page": str(page), "external": external, "math_in_source": refs.math, "math_typeset": typeset,
            "cell_errors": len(errors), "missing_images": missing, "dom_bytes": len(dom),
            "screenshot": str(screenshot) if screenshot else None}
