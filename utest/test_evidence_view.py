"""The message cards as a reader sees them in log.html, in light and dark themes.

A real Robot run logs real mail; headless Chromium opens the log in each
theme, expands everything, and a small script measures the contrast of every
piece of card text against the background it is drawn on (WCAG 2 formula).
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers import run_robot
from test_log_safety import CHROMIUM_FLAGS, chromium

ATEST = Path(__file__).resolve().parent.parent / "atest"
SUITE = """
*** Settings ***
Resource    {resources}/common.resource
Suite Setup    Start Server For Suite
Suite Teardown    Stop Mock SMTP Server
Test Setup    Reset Mock SMTP Server

*** Test Cases ***
Card With An Embedded Image, Bcc And Attachments
    Send Mail    --raw    {resources}/rich.eml    --to    reader@example.com    --to    hidden@example.com
    ${{msg}}=    Wait Until Message Is Received
    Log Message    ${{msg}}

Failed Test With Many Mails
    Send Mail    --to    many@example.com    --count    25
    Fail    on purpose

Failed Test Without Mail
    Fail    on purpose too
"""

# Expands the whole log, then measures every text node of every card.
MEASURE = """
<script>
function luminance(rgb) {
  const c = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
function parse(color) { const m = color.match(/[\\d.]+/g).map(Number); return m.length > 3 ? m : m.concat([1]); }
function background(element) {
  for (let e = element; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c[3] > 0.5) return c;
  }
  return parse(getComputedStyle(document.documentElement).backgroundColor || 'rgb(255,255,255)');
}
function measure() {
  const cards = [...document.querySelectorAll('details[style*="--target-color"]')];
  const results = [];
  for (const card of cards) {
    card.open = true;
    card.querySelectorAll('details').forEach(d => d.open = true);
    for (const e of card.querySelectorAll('summary, b, td, pre, li, a')) {
      if (!e.textContent.trim()) continue;
      const fg = parse(getComputedStyle(e).color), bg = background(e);
      const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
      results.push({tag: e.tagName, text: e.textContent.trim().slice(0, 40), ratio: (l1 + 0.05) / (l2 + 0.05)});
    }
  }
  const out = document.createElement('pre');
  out.id = 'measured';
  out.textContent = JSON.stringify({cards: cards.length, results: results,
    dark: matchMedia('(prefers-color-scheme: dark)').matches});
  document.body.appendChild(out);
}
window.addEventListener('load', () => setTimeout(() => { expandAll('s1'); setTimeout(measure, 500); }, 500));
</script>
"""

THEMES = {
    "light": ["--blink-settings=preferredColorScheme=1"],
    "dark": ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"],
}


@pytest.fixture(scope="module")
def logged() -> dict:
    with tempfile.TemporaryDirectory() as directory:
        suite = Path(directory) / "cards.robot"
        suite.write_text(SUITE.format(resources=ATEST / "resources"), encoding="utf-8")
        run = run_robot(suite, "--outputdir", directory, "--log", "log.html")
        assert "3 tests, 1 passed, 2 failed" in run.stdout, run.stdout + run.stderr
        log = (Path(directory) / "log.html").read_text(encoding="utf-8")
        measured = {}
        for theme, flags in THEMES.items():
            page = Path(directory) / f"log-{theme}.html"
            page.write_text(
                log.replace("</body>", MEASURE + "</body>"), encoding="utf-8"
            )
            dom = subprocess.run(
                [
                    chromium(),
                    *CHROMIUM_FLAGS,
                    *flags,
                    f"--user-data-dir={directory}/profile-{theme}",
                    f"file://{page}",
                ],
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
            found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
            assert found, f"the measuring script did not run in the {theme} theme"
            measured[theme] = json.loads(found.group(1).replace("&quot;", '"'))
        output = (Path(directory) / "output.xml").read_text(encoding="utf-8")
    return {"output": output, "measured": measured}


@pytest.mark.parametrize("theme", THEMES)
def test_card_text_is_readable_in_both_themes(logged, theme):
    measured = logged["measured"][theme]
    assert measured["dark"] is (theme == "dark")
    assert measured["cards"] >= 11  # one logged card and ten of evidence
    assert len(measured["results"]) > 50
    worst = min(measured["results"], key=lambda r: r["ratio"])
    assert worst["ratio"] >= 4.5, f"{theme}: {worst}"


def test_evidence_shows_the_first_cards_open_and_caps_the_rest(logged):
    output = logged["output"]
    test = output.split('name="Failed Test With Many Mails"')[1].split("</test>")[0]
    assert "Evidence: 25 messages received by server" in test
    assert test.count("&lt;details open style=") == 3
    assert test.count("&lt;details style=") == 7
    assert "... and 15 more messages, not shown" in test


def test_a_failed_test_without_mail_logs_no_evidence(logged):
    output = logged["output"]
    test = output.split('name="Failed Test Without Mail"')[1].split("</test>")[0]
    assert "Evidence" not in test


def test_card_shows_bcc_embedded_images_and_attachment_links(logged):
    output = logged["output"]
    test = output.split('name="Card With An Embedded Image, Bcc And Attachments"')[1]
    card = test.split("</test>")[0]
    assert re.search(r"&gt;Bcc&lt;/td&gt;&lt;td&gt;[^&]*hidden@example.com", card)
    assert "cid:" not in card  # every cid: reference became the part itself
    assert "data:image/png;base64," in card
    assert 'download="report.csv"' in card
    assert "data:application/octet-stream;base64," in card
