"""The HTML report of qmcheck check in a real headless browser (Debian's chromium): the page
renders, logs no console error, and draws the counterexample's sequence diagram and the plot
of state counts. Skipped, with the reason printed, when chromium is not installed
(scripts/install-system-deps.sh installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from qmcheck.properties.cli.main import main
from tests.system.conftest import SUMMARY

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PROBE = """<script>
window.addEventListener("load", () => {
  const box = (q) => { const e = document.querySelector(q);
                       return e ? Math.round(e.getBoundingClientRect().width) : 0; };
  document.title = "probe seq=" + box("svg.sequence") + " plot=" + box("#states-plot")
    + " summary=" + box("#summary") + " matrix=" + box("#peer-matrix");
});
</script>"""


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    SUMMARY.append("HTML report: skipped, no chromium (scripts/install-system-deps.sh)")
    pytest.skip("chromium is not installed")


def render(page: Path, profile: Path) -> tuple[str, str]:
    """(DOM after load, browser log) of ``page`` in headless chromium, offline."""
    argv = [browser(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--no-first-run", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr",
            "--v=0", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if "CONSOLE" in line and ("ERROR" in line or "error" in line.lower())]


def test_html_report_renders_offline_with_diagrams(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--format", "html"])
    html = capsys.readouterr().out
    assert code == 1 and html.startswith("<!DOCTYPE html>")
    # single file, no network: nothing is loaded from anywhere
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    assert "<script" not in html
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    dom, log = render(page, tmp_path / "profile")
    assert 'id="verdict"' in dom and "REFUTED" in dom
    assert "<svg" in dom and 'class="sequence"' in dom and 'id="states-plot"' in dom
    assert console_errors(log) == [], console_errors(log)
    # the diagrams are laid out (non-zero width), measured by a probe in a copy of the page
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom, log = render(probed, tmp_path / "profile2")
    title = re.search(r"<title>(probe [^<]*)</title>", dom)
    assert title is not None, dom[:500]
    widths = dict(item.split("=") for item in title.group(1).split()[1:])
    assert all(int(w) > 100 for w in widths.values()), widths
    assert console_errors(log) == []
    SUMMARY.append(f"HTML report: rendered in chromium, widths {widths}")


def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The console check can fail: a page that logs an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('boom')</script>"
                    "</body></html>", encoding="utf-8")
    _, log = render(page, tmp_path / "profile")
    assert console_errors(log), log[-2000:]
