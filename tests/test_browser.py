"""The built book as a reader's browser sees it: offline, math typeset, no errors, images present.

Run by `make book-test` after `make book` (CI does both). Screenshots land in _build/screenshots/.
"""
import json
import os
from pathlib import Path

import pytest
from pagecheck import check_page, chromium

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
PAGES = sorted(p for p in HTML.rglob("*.html") if not {"_static", "_sources", "_images"} & set(p.parts)) \
    if HTML.exists() else []

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    chromium() is None and os.environ.get("CI") != "true", reason="needs Debian's chromium (make book-test installs it)")]


def test_book_was_built():
    assert (HTML / "index.html").exists(), "run `make book` first"
    assert any(p.name == "01_sinkhorn.html" for p in PAGES)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(HTML)))
def test_page(page):
    r = check_page(page, ROOT / "_build" / "screenshots" / (str(page.relative_to(HTML)).replace("/", "__") + ".png"))
    assert r["dom_bytes"] > 0, "chromium rendered nothing"
    assert not r["external"], f"page requested external URLs: {r['external']}"
    assert r["cell_errors"] == 0, "a notebook cell shows an error"
    assert not r["missing_images"], f"missing images: {r['missing_images']}"
    if r["math_in_source"]:
        assert r["math_typeset"] >= r["math_in_source"], f"math not typeset: {r['math_typeset']} of {r['math_in_source']}"
    assert Path(r["screenshot"]).exists()
    # The layout a reader meets, kept beside the screenshots: at 1280 px nothing is cut or scrolls
    # sideways; at 390 px (a phone) nothing is lost (a wide table may scroll in its own box).
    from pagecheck import layout, redirects

    if redirects(page):
        return
    name = str(page.relative_to(HTML)).replace("/", "__")
    shots = ROOT / "_build" / "screenshots"
    found = {w: layout(page, w, screenshot=shots / f"{name}-{w}.png") for w in (1280, 390)}
    (shots / f"{name}.layout.json").write_text(json.dumps(found, indent=1))
    wide, phone = found[1280], found[390]
    assert not wide["cut"] and not wide["scrolls"], f"at 1280 px: cut {wide['cut']}, scrolling {wide['scrolls']}"
    assert not phone["cut"], f"at 390 px content is lost: {phone['cut']}"


def test_checker_catches_a_cdn_script_and_raw_math(tmp_path):
    """The same checks fail on a page that loads a CDN script (offline: it cannot typeset)."""
    page = tmp_path / "bad.html"
    page.write_text('<html><head><script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js">'
                    '</script></head><body><span class="math">\\(x^2\\)</span><img src="nope.png"></body></html>')
    r = check_page(page)
    assert any("cdn.jsdelivr.net" in u for u in r["external"])
    assert r["math_typeset"] < r["math_in_source"]
    assert r["missing_images"] == ["nope.png"]


def test_every_saved_figure_is_shown_on_its_page():
    """A chapter that saves k figures shows at least k images (a non-inline matplotlib backend in
    the kernels once left every page without figures while figures/ filled up)."""
    import nbformat

    for nb_path in sorted((ROOT / "book").glob("*.ipynb")):
        saves = sum(c.source.count("plotting.save(") for c in nbformat.read(nb_path, 4).cells if c.cell_type == "code")
        page = HTML / "book" / f"{nb_path.stem}.html"
        shown = page.read_text().count("<img")
        assert shown >= saves, f"{page.name}: {shown} images shown, {saves} figures saved"


def _bad_layout_page(folder: Path) -> Path:
    """A page built to break each layout rule: a table clipped by its box, a code block that
    scrolls sideways, a visible code input, and the verdict summary far down the page."""
    page = folder / "bad_layout.html"
    wide = "<tr>" + "".join(f"<td>column {i} with a long heading</td>" for i in range(40)) + "</tr>"
    page.write_text(
        "<html><body style='margin:0'><div style='width:600px;overflow:hidden'><table>" + wide + "</table></div>"
        "<div class='cell_input'><pre>import sae</pre></div>"
        "<details><summary>Show code</summary><div class='cell_input'><pre>hidden</pre></div></details>"
        "<div style='width:600px'><pre style='overflow-x:auto'>" + "x" * 400 + "</pre></div>"
        "<div style='height:3000px'></div><h2 id='verdict-summary'>Summary</h2></body></html>")
    return page


def test_layout_checker_catches_each_rule(tmp_path):
    from pagecheck import layout

    r = layout(_bad_layout_page(tmp_path), 1280)
    assert [c["el"] for c in r["cut"]] == ["table"], r
    assert any(s["el"] == "pre" for s in r["scrolls"]), r
    assert r["visible_inputs"] == 1 and r["summary_top"] > 3000
    ok = tmp_path / "ok.html"
    ok.write_text("<html><body><h2 id='verdict-summary'>Summary</h2><table><tr><td>a</td></tr></table></body></html>")
    r = layout(ok, 390)
    assert not r["cut"] and not r["scrolls"] and r["visible_inputs"] == 0 and r["summary_top"] < 100
    # A wide table in a box that scrolls sideways is reachable on a phone: it scrolls, nothing is cut.
    phone = tmp_path / "phone.html"
    phone.write_text("<html><body><div style='overflow-x:auto'><table>" + "<tr>" +
                     "".join(f"<td>column {i}</td>" for i in range(20)) + "</tr></table></div></body></html>")
    r = layout(phone, 390)
    assert r["viewport"] == 390 and not r["cut"] and [s["el"] for s in r["scrolls"]] == ["table"], r


REPORT = HTML / "book" / "08_report.html"


@pytest.mark.skipif(not REPORT.exists(), reason="run `make book` first")
def test_the_report_shows_no_code_input():
    from pagecheck import layout

    for width in (1280, 390):
        r = layout(REPORT, width, screenshot=ROOT / "_build" / "screenshots" / f"08_report-{width}.png")
        assert r["visible_inputs"] == 0, f"{width} px: {r['visible_inputs']} code inputs visible on the report"
        if width == 1280:
            assert r["summary_top"] is not None and r["summary_top"] <= 1100, \
                f"the verdict summary starts {r['summary_top']} px down (the first screen ends at 1,100)"
