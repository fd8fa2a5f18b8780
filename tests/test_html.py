"""The HTML report (`table NAME --format html`) and notebook display (`_repr_html_`).

The browser test opens the vgg16 report in headless Chromium at 390 px and 1280 px, saves both
screenshots and checks that the page never scrolls sideways and the table fits its box at both
widths; it is skipped where Chromium is absent (Debian: apt-get install chromium)."""

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

import archstat

VOID = {"meta", "br", "img", "input", "link", "hr"}
SVG_LEAVES = {"rect", "line"}


class Checker(HTMLParser):
    """Balanced tags, and every external reference an HTML page could fetch."""

    def __init__(self):
        super().__init__()
        self.stack, self.fetches, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") or (value and "url(" in value):
                self.fetches.append((tag, name, value))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


@pytest.fixture
def report(cli):
    """archstat table NAME --format html's page; the command must succeed."""

    def report(name="vgg16", *args):
        r = cli("table", name, "--format", "html", *args)
        assert r.exit_code == 0, r.stderr
        return r.stdout

    return report


def test_report_is_one_self_contained_well_formed_page(report):
    html = report()
    checker = Checker()
    checker.feed(html)
    assert checker.stack == [] and checker.fetches == []          # no CDN, no network, nothing to fetch
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert html.startswith("<!DOCTYPE html>") and '<meta name="viewport"' in html
    stats = archstat.analyze("vgg16")
    rows = re.findall(r"<tbody>(.*)</tbody>", html, re.S)[0].count("<tr")
    assert rows == len(stats.rows) == 22
    for r in stats.rows:
        assert f">{r.label}<" in html
    # exact numbers, with the compact form beside them for narrow screens
    assert '<span class="x">1,849,688,064</span><span class="c">1.85 G</span>' in html
    assert "NOT REPRODUCED" in html and "TOTAL params: 138M parameters" in html
    assert html.count("<svg") == 1 and html.count("<rect") >= 3 * 13    # 13 convs have params and MACs
    assert "table.sortable" in html and 'class="sortable"' in html


def test_report_sort_keys_are_exact_numbers(report):
    html = report()
    conv = re.search(r"<tr><td[^>]*>conv1_2</td>.*?</tr>", html, re.S).group(0)
    # conv1_2: 64·224·224 = 3,211,264 elements, ×4 B = 12,845,056 B; MACs 224·224·64·64·9 = 1,849,688,064
    for value in (3_211_264, 12_845_056, 1_849_688_064):
        assert f'data-v="{value}"' in conv


def test_repr_html_of_analysis_compare_and_sweep():
    from archstat.analyze.compare import Compared, compare
    from archstat.orchestrate import run_sweep

    stats = archstat.analyze("vgg16")
    html = stats._repr_html_()
    assert "<table" in html and "<html" not in html and ">FC-1000<" in html and "<svg" in html
    assert "ModelStats vgg16: 138,357,544 params" in repr(stats)
    c = compare([Compared(label, m, archstat.analyze(m)) for label, m in (("A", "conv7x7"), ("B", "conv3x3-stack"))])
    assert "<table" in c._repr_html_() and "conv3x3-stack" in c._repr_html_()
    sweep = run_sweep("resnet18", [None], [1, 8], {})
    html = sweep._repr_html_()
    assert html.count("<tr>") == 1 + 2 and "11,689,512" in html     # resnet18: torchvision's 11,689,512 params


def test_rich_console_shows_the_fitted_table():
    from rich.console import Console

    console = Console(width=80, record=True, file=open("/dev/null", "w"))
    console.print(archstat.analyze("vgg16"))
    text = console.export_text()
    assert "FC-1000" in text and max(len(line) for line in text.splitlines()) <= 80


CHROMIUM = next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)), None)

PROBE = """<script>
window.addEventListener('load', function () {
  var t = document.querySelector('.archstat .scroll'), d = document.documentElement;
  document.title = 'probe:' + d.scrollWidth + ':' + d.clientWidth + ':' + t.scrollWidth + ':' + t.clientWidth;
});
</script>"""


def chromium(*args, timeout=90):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", "--disable-dev-shm-usage", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium)")
@pytest.mark.parametrize("width", [390, 1280])
def test_report_in_headless_chromium(report, tmp_path, width):
    page = tmp_path / "vgg16.html"
    page.write_text(report().replace("</body>", PROBE + "</body>"))
    shot = tmp_path / f"vgg16-{width}.png"
    chromium(f"--window-size={width},2400", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(shot.read_bytes()[16:20], "big") == width
    dom = chromium(f"--window-size={width},2400", "--virtual-time-budget=2000", "--dump-dom", page.as_uri()).stdout
    probe = re.search(r"<title>probe:(\d+):(\d+):(\d+):(\d+)</title>", dom)
    assert probe, dom[:300]
    page_scroll, page_width, table_scroll, table_width = map(int, probe.groups())
    assert page_scroll <= page_width          # the page never scrolls sideways
    assert table_scroll <= table_width        # every shown column of the table fits its box
