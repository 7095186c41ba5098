"""The built book as a reader's browser sees it: offline, math typeset, no errors, images present.

Run by `make book-test` after `make book` (CI does both). Screenshots land in _build/screenshots/.
"""
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
