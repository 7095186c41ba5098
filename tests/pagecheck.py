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
# --dump-dom returns. An output, table, code block, image or equation wider than the room it has
# is either "cut" (its content is lost: clipped by a box that hides overflow, or past the
# window's edge) or "scrolls" (reachable with a sideways scroll bar in its own box or the nearest
# box that scrolls). Only elements a reader sees count (a collapsed code input is not rendered);
# an element inside one already counted is not counted again.
PROBE = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const closed = el => { for (let d = el.closest('details'); d; d = d.parentElement && d.parentElement.closest('details'))
                           if (!d.open && !el.closest('summary')) return true;
                         return false; };
  const seen = el => !closed(el) && (!el.checkVisibility || el.checkVisibility()) && el.offsetParent !== null
                     && el.getBoundingClientRect().height > 0;
  const name = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ?
      '.' + el.className.trim().split(/\\s+/).slice(0, 2).join('.') : '');
  const mode = el => { const o = getComputedStyle(el).overflowX;
                       return o === 'auto' || o === 'scroll' ? 'scrolls' : o === 'hidden' || o === 'clip' ? 'cut' : null; };
  const vw = document.documentElement.clientWidth;
  const found = new Map();
  // the page's text (sidebars and drawers are the theme's; a drawer closed on a phone sits off-screen)
  const main = document.querySelector('article.bd-article') || document.body;
  for (const el of main.querySelectorAll('.cell_output, .output, div.highlight, table, pre, img, .math, mjx-container')) {
    if (!seen(el)) continue;
    const r = el.getBoundingClientRect(), top = Math.round(r.top + window.scrollY);
    let kind = null, over = 0;
    // an inline box (inline math) is measured by its place in the line, not its scroll width: MathJax
    // keeps an invisible, clipped copy of each formula for screen readers that widens it
    const own = getComputedStyle(el).display.startsWith('inline') ? 0 : el.scrollWidth - el.clientWidth;
    if (own > 2 && mode(el)) { kind = mode(el); over = own; }
    if (!kind) {
      let box = null;
      for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement)
        if (mode(a)) { box = a; break; }
      const right = box ? box.getBoundingClientRect().right : vw;
      if (r.right - right > 2) { kind = box ? mode(box) : 'cut'; over = r.right - right; }
      if (!kind && r.right - vw > 2) { kind = 'cut'; over = r.right - vw; }
    }
    if (kind) found.set(el, {el: name(el), kind, over: Math.round(over), top});
  }
  const cut = [], scrolls = [];
  for (const [el, f] of found) {
    let inner = false;
    for (let a = el.parentElement; a; a = a.parentElement) if (found.has(a)) { inner = true; break; }
    if (!inner) (f.kind === 'cut' ? cut : scrolls).push({el: f.el, over: f.over, top: f.top});
  }
  const inputs = [...document.querySelectorAll('.cell_input')].filter(seen).length;
  const summary = document.getElementById('verdict-summary');
  const out = {cut, scrolls, visible_inputs: inputs, viewport: vw,
               page_width: document.documentElement.scrollWidth,
               summary_top: summary ? Math.round(summary.getBoundingClientRect().top + window.scrollY) : null};
  const pre = document.createElement('pre');
  pre.id = 'pagecheck-result'; pre.style.display = 'none'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
  if (window.parent !== window) window.parent.postMessage(JSON.stringify(out), '*');
}, 300));
</script>"""

# Headless Chromium will not open a window narrower than 500 px, so a phone's width is measured
# in an iframe of that width (its media queries and layout are the phone's); the probe inside
# posts its findings to this frame, which --dump-dom returns.
MIN_WINDOW = 500
FRAME = """<html><body style="margin:0"><iframe src="{src}" width="{width}" height="{height}" style="border:0"></iframe>
<script>window.addEventListener('message', e => {{ const pre = document.createElement('pre');
  pre.id = 'pagecheck-result'; pre.style.display = 'none'; pre.textContent = e.data; document.body.appendChild(pre); }});
</script></body></html>"""


def redirects(page: Path) -> bool:
    """A page that only forwards the reader elsewhere (Jupyter Book's index.html): no layout."""
    return 'http-equiv="refresh"' in page.read_text(errors="replace")[:2000].lower()


def layout(page: Path, width: int = 1280, height: int = 900, screenshot: Path | None = None) -> dict:
    """Cut and sideways-scrolling elements, visible code inputs (one in a closed <details> is not)
    and where the verdict summary (an element with id ``verdict-summary``) starts, at a window
    ``width`` px wide."""
    page = page.resolve()
    probe = page.with_name(f".pagecheck-{page.name}")
    frame = page.with_name(f".pagecheck-frame-{page.name}")
    html = page.read_text(errors="replace")
    probe.write_text(html.replace("</body>", PROBE + "</body>") if "</body>" in html else html + PROBE)
    narrow = width < MIN_WINDOW
    try:
        if narrow:
            frame.write_text(FRAME.format(src=probe.name, width=width, height=height))
        window = max(width, MIN_WINDOW)
        dom = _run([f"--window-size={window},{height}", "--virtual-time-budget=10000", "--dump-dom",
                    (frame if narrow else probe).as_uri()]).stdout
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            if narrow:
                frame.write_text(FRAME.format(src=page.name, width=width, height=height * 2))
            _run([f"--window-size={window},{height * 2}", "--virtual-time-budget=10000", f"--screenshot={screenshot}",
                  (frame if narrow else page).as_uri()])
    finally:
        probe.unlink(missing_ok=True)
        frame.unlink(missing_ok=True)
    found = re.search(r'<pre id="pagecheck-result"[^>]*>(.*?)</pre>', dom, re.S)
    if not found:
        raise RuntimeError(f"the layout probe did not report on {page.name} (the page did not finish loading?)")
    return json.loads(unescape(found.group(1)))
