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
    assert html.count("<svg") == 2 and html.count("<rect") >= 3 * 13    # 13 convs have params and MACs; desktop and phone charts
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

# the page is laid out in an iframe of the asked width: headless Chromium's window is never narrower than 500 px,
# so a window of 390 lays the page out at 500 (issue 33 item 7); an iframe of 390 px is a phone's 390 px
FRAME = """<!DOCTYPE html><html><body style="margin:0"><iframe id="f" style="width:{width}px;height:2400px;border:0"
 srcdoc="{page}"></iframe><script>
document.getElementById('f').addEventListener('load', function () {{
  var w = this.contentWindow, d = w.document, e = d.documentElement, bad = [];
  d.querySelectorAll('.archstat .scroll, .archstat .plot').forEach(function (box, i) {{
    if (box.scrollWidth > box.clientWidth) bad.push(box.className + i + ':' + box.scrollWidth + '>' + box.clientWidth);
  }});
  d.querySelectorAll('.archstat svg').forEach(function (svg, i) {{
    var r = svg.getBoundingClientRect();
    if (r.width > 0 && r.right > e.clientWidth) bad.push('svg' + i + ':' + r.right);
  }});
  var shown = Array.from(d.querySelectorAll('.archstat svg')).filter(function (s) {{
    return s.getBoundingClientRect().width > 0; }}).map(function (s) {{ return s.getAttribute('class'); }});
  document.title = 'probe:' + w.innerWidth + ':' + e.scrollWidth + ':' + e.clientWidth + ':' + shown.join('+') +
                   ':' + bad.join(',');
}});
</script></body></html>"""


def chromium(*args, timeout=90):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--no-first-run", "--disable-dev-shm-usage", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", *args],
                          capture_output=True, text=True, timeout=timeout)


def laid_out(html: str, width: int, tmp_path, name: str):
    """(window width, page scroll width, page width, the charts shown, what overflows its box) of ``html``
    laid out at ``width`` px, and a screenshot of it saved beside (to look at)."""
    import html as htmllib

    frame = tmp_path / f"{name}-{width}.html"
    frame.write_text(FRAME.format(width=width, page=htmllib.escape(html, quote=True)))
    shot = tmp_path / f"{name}-{width}.png"
    chromium(f"--window-size={max(width, 500)},2400", f"--screenshot={shot}", frame.as_uri())
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = chromium(f"--window-size={max(width, 500)},2400", "--virtual-time-budget=3000", "--dump-dom",
                   frame.as_uri()).stdout
    probe = re.search(r"<title>probe:(\d+):(\d+):(\d+):([^:<]*):([^<]*)</title>", dom)
    assert probe, dom[:300]
    inner, scroll, page, shown, bad = probe.groups()
    return int(inner), int(scroll), int(page), shown, bad


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium)")
@pytest.mark.parametrize("width", [390, 1280])
def test_report_in_headless_chromium(report, tmp_path, width):
    inner, scroll, page, shown, bad = laid_out(report(), width, tmp_path, "vgg16")
    assert inner == width                      # laid out at the width asked, not the window's 500 px minimum
    assert scroll <= page                      # the page never scrolls sideways
    assert bad == ""                           # every table, and the chart, fits its box
    # a phone gets the chart turned on its side (every panel visible without scrolling), a desktop the wide one
    assert shown == ("narrow" if width < 640 else "wide has-narrow")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium)")
@pytest.mark.parametrize("width", [390, 1280])
def test_compare_report_in_headless_chromium(cli, tmp_path, width):
    r = cli("compare", "googlenet-naive", "googlenet-bottleneck", "--format", "html")
    assert r.exit_code == 0, r.stderr
    inner, scroll, page, _shown, bad = laid_out(r.stdout, width, tmp_path, "inception")
    assert (inner, bad) == (width, "") and scroll <= page


# -- issue 33 items 6 and 7: the inception lesson as HTML, and a chart that fits a phone ------------------------

def test_compare_html_is_a_page_with_every_models_checks(cli):
    r = cli("compare", "googlenet-naive", "googlenet-bottleneck", "--format", "html")
    assert r.exit_code == 0, r.stderr
    html = r.stdout
    checker = Checker()
    checker.feed(html)
    assert checker.stack == [] and checker.fetches == [] and html.startswith("<!DOCTYPE html>")
    # the lesson: 854M ops REPRODUCED for the naive module, 358M NOT REPRODUCED for the bottleneck one
    assert re.search(r"<b>macs</b> <span class=\"status ok\">REPRODUCED</span>.*Total: 854M ops", html, re.S)
    assert re.search(r"<b>macs</b> <span class=\"status bad\">NOT REPRODUCED</span>.*Total: 358M ops", html, re.S)
    assert "854,196,224" in html and "271,351,808" in html


def test_notebook_comparison_keeps_the_checks():
    c = archstat.compare(["googlenet-naive", "googlenet-bottleneck"])
    html = c._repr_html_()
    assert "Total: 854M ops" in html and "Total: 358M ops" in html and "NOT REPRODUCED" in html


def test_a_phone_gets_a_chart_that_fits():
    from archstat.report.html_report import CSS, NARROW_ROWS, plot_svg

    stats = archstat.analyze("vgg16")
    svg = plot_svg(stats)
    assert svg.count("<svg") == 2 and 'class="narrow"' in svg
    narrow = svg[svg.index('<svg class="narrow"'):]
    assert 'viewBox="0 0 360 ' in narrow and narrow.count(">FC-4096<") == 2   # one line per layer
    assert "min-width:720px" not in CSS                                       # nothing forces a sideways scroll
    big = archstat.analyze("resnet152")
    assert len(big.rows) > NARROW_ROWS and plot_svg(big).count("<svg") == 1   # too many rows: the wide one scales
