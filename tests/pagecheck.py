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
from html import unescape
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


# What a reader sees of the layout, measured in the page itself: a probe script appended to a copy
# of the page (beside it, so relative links hold) writes its findings into the DOM, which
# --dump-dom returns. "cut": an output, table, code block or image wider than its box and clipped
# (its content is lost); "scrolls": wider than its box with a sideways scroll bar; both count only
# for elements a reader sees (a collapsed code input is not rendered).
PROBE = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const closed = el => { for (let d = el.closest('details'); d; d = d.parentElement && d.parentElement.closest('details'))
                           if (!d.open && !el.closest('summary')) return true;
                         return false; };
  const seen = el => !closed(el) && (!el.checkVisibility || el.checkVisibility()) && el.offsetParent !== null
                     && el.getBoundingClientRect().height > 0;
  const name = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ?
      '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '');
  const cut = [], scrolls = [];
  const vw = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll('.cell_output, .output, div.highlight, table, pre, img, .math')) {
    if (!seen(el)) continue;
    const over = el.scrollWidth - el.clientWidth, right = el.getBoundingClientRect().right - vw;
    if (over <= 2 && right <= 2) continue;
    const style = getComputedStyle(el);
    const hides = ['hidden', 'clip'].includes(style.overflowX) || right > 2;
    (hides ? cut : scrolls).push({el: name(el), over: Math.round(Math.max(over, right)),
                                  top: Math.round(el.getBoundingClientRect().top + window.scrollY)});
  }
  const inputs = [...document.querySelectorAll('.cell_input')].filter(seen).length;
  const summary = document.getElementById('verdict-summary');
  const out = {cut, scrolls, visible_inputs: inputs, viewport: vw,
               page_width: document.documentElement.scrollWidth,
               summary_top: summary ? Math.round(summary.getBoundingClientRect().top + window.scrollY) : null};
  const pre = document.createElement('pre');
  pre.id = 'pagecheck-result'; pre.style.display = 'none'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 300));
</script>"""


def redirects(page: Path) -> bool:
    """A page that only forwards the reader elsewhere (Jupyter Book's index.html): no layout."""
    return 'http-equiv="refresh"' in page.read_text(errors="replace")[:2000].lower()


def layout(page: Path, width: int = 1280, height: int = 900, screenshot: Path | None = None) -> dict:
    """Cut and sideways-scrolling elements, visible code inputs (one in a closed <details> is not)
    and where the verdict summary (an element with id ``verdict-summary``) starts, at a window
    ``width`` px wide."""
    page = page.resolve()
    probe = page.with_name(f".pagecheck-{page.name}")
    html = page.read_text(errors="replace")
    probe.write_text(html.replace("</body>", PROBE + "</body>") if "</body>" in html else html + PROBE)
    try:
        dom = _run([f"--window-size={width},{height}", "--virtual-time-budget=10000", "--dump-dom",
                    probe.as_uri()]).stdout
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            _run([f"--window-size={width},{height * 2}", "--virtual-time-budget=10000", f"--screenshot={screenshot}",
                  page.as_uri()])
    finally:
        probe.unlink(missing_ok=True)
    found = re.search(r'<pre id="pagecheck-result"[^>]*>(.*?)</pre>', dom, re.S)
    if not found:
        raise RuntimeError(f"the layout probe did not report on {page.name} (the page did not finish loading?)")
    return json.loads(unescape(found.group(1)))
