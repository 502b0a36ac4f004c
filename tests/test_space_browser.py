# Copyright 2026 The m2fnet Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""End-to-end tests of the Space in headless Chromium: `python space/app.py` served; examples clicked, rows pasted and
imported, errors followed by successes, layouts checked for clipped controls, results read.

Needs Debian's Chromium (`apt-get install chromium`; another binary via `M2FNET_CHROMIUM`) and the Playwright Python
package (`pip install playwright`; its own browser download is not used). Skips with a message when either is missing.
Set `M2FNET_SAVE_SCREENSHOT=1` to also write the screenshot to `space/screenshot.png` (the one the READMEs show).
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


REPO_ROOT = Path(__file__).resolve().parents[1]
SPACE_DIR = REPO_ROOT / "space"
CHROMIUM = os.environ.get("M2FNET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 90
PREDICTION_TIMEOUT_MS = 30_000
DESKTOP, NARROW = {"width": 1280, "height": 800}, {"width": 800, "height": 900}
TABS = ("Conversation table", "Scene video + transcript", "Single utterance")
OUTPUTS = ("#results", "#timeline", "#answered-by", "#single-label")
# Elements whose content overflows a box that hides the overflow, i.e. clipped controls. Scrolling grids and editors,
# the chart, toasts and Gradio's hidden helpers (drop hint, off-screen tab measure) are not controls.
CLIPPED_JS = """() => {
  const skip = '[role=grid], .cm-editor, svg, .vega-embed, .toast-wrap, .drop-hint, .visually-hidden';
  const clipped = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || el.closest(skip)) continue;
    const style = getComputedStyle(el);
    const hides = v => v === 'hidden' || v === 'clip';
    const dy = hides(style.overflowY) ? el.scrollHeight - el.clientHeight : 0;
    const dx = hides(style.overflowX) ? el.scrollWidth - el.clientWidth : 0;
    if (dy > 2 || dx > 2) clipped.push(`${el.tagName} ${el.innerText.slice(0, 60).replace(/\\s+/g, ' ')} (${dx}x${dy} px)`);
  }
  return clipped;
}"""

pytestmark = pytest.mark.timeout(180)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def playwright_api():
    pytest.importorskip("gradio", reason="the Space needs gradio (`pip install -e .[space]`)")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: `apt-get install chromium`; or set M2FNET_CHROMIUM)")
    return pytest.importorskip("playwright.sync_api", reason="pip install playwright (the browser is Debian's)")


@pytest.fixture(scope="module")
def space_url(playwright_api, tiny_checkpoint, tmp_path_factory):
    """`python space/app.py` in a subprocess (as on the Hub: the model's code only through `trust_remote_code`)."""
    port, log_path = _free_port(), tmp_path_factory.mktemp("space_run") / "server.log"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("M2FNET_", "GRADIO_"))}
    # the model as a folder relative to the server's working directory: the banner (and screenshot) shows its name
    env.update(
        M2FNET_MODEL=tiny_checkpoint.name,
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
    )
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, str(SPACE_DIR / "app.py")],
            cwd=tiny_checkpoint.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"space/app.py exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"space/app.py did not answer within {STARTUP_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def page(playwright_api, space_url):
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=DESKTOP)
            page_errors = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            page.goto(space_url, wait_until="domcontentloaded")
            page.get_by_text("M2FNet — emotion recognition in conversation").wait_for()
            yield page
            assert not page_errors, f"JavaScript errors on the page: {page_errors}"
        finally:
            browser.close()


def _result_rows(page) -> int:
    """Data rows of the results table (its grid counts the header row too); 0 while it is empty."""
    count = page.locator("#results [role=grid]").get_attribute("aria-rowcount")
    return int(count) - 1 if count else 0


def _wait_for_results(page, num_rows: int) -> None:
    page.wait_for_function(
        "n => Number(document.querySelector('#results [role=grid]')?.getAttribute('aria-rowcount')) === n + 1",
        arg=num_rows,
        timeout=PREDICTION_TIMEOUT_MS,
    )


def _clipped_after_settling(page, timeout_ms: int = 10_000) -> list[str]:
    """Clipped elements once the page has settled: Gradio shows short-lived "Loading" placeholders while an output
    renders, so a placeholder counts only if it is still clipped after `timeout_ms`."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(f"() => ({CLIPPED_JS})().length === 0", timeout=timeout_ms)
    except PlaywrightTimeoutError:  # report what is still clipped
        pass
    return page.evaluate(CLIPPED_JS)


def _error_badges(page, selectors=OUTPUTS) -> dict[str, int]:
    """Gradio's red "Error" status badges shown on each of `selectors` (0 everywhere once a request succeeded)."""
    return {selector: page.locator(f"{selector} .error").count() for selector in selectors}


def _status(page) -> str:
    return page.locator("#run-status").inner_text()


def test_sample_conversation_example_in_browser(page, playwright_api, tmp_path):
    assert "Random weights — predictions are meaningless" in page.locator("#model-banner").inner_text()
    assert _result_rows(page) == 0

    page.get_by_text("Sample conversation (text + audio + video)").click()  # fills the table and the file list
    playwright_api.expect(page.locator("#conversation-table")).to_contain_text("rachel.mp4")
    assert _result_rows(page) == 0  # examples only fill the inputs
    page.locator("#predict-conversation").click()
    _wait_for_results(page, 5)

    results = page.locator("#results").inner_text()
    for utterance in ("We were on a break!", "Fine. You know what? Fine.", "Just go. Please, go.", "Okay."):
        assert utterance in results
    assert "text+audio+visual" in results and "text+audio" in results
    page.locator("#timeline").get_by_text("utterance", exact=True).wait_for()  # the chart's x axis title
    assert "num_utterances" in page.locator("#answered-by").inner_text()
    playwright_api.expect(page.locator("#run-status")).to_contain_text("✔ Predicted 5 utterance(s)")
    assert _clipped_after_settling(page) == []  # nothing clipped with results, chart and file list shown

    page.wait_for_timeout(500)  # let the chart finish its transition before the screenshot
    screenshot = page.screenshot(path=tmp_path / "space.png", full_page=True)
    assert len(screenshot) > 10_000
    if os.environ.get("M2FNET_SAVE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "space.png", SPACE_DIR / "screenshot.png")


def test_scene_example_and_error_message_in_browser(page, playwright_api):
    page.get_by_role("tab", name="Scene video + transcript").click()
    page.locator("#predict-scene").click()  # no video yet: a readable error, no stack trace
    toast = page.get_by_text("Upload the scene video.")
    toast.wait_for(timeout=PREDICTION_TIMEOUT_MS)
    assert "Traceback" not in page.locator("body").inner_text()
    playwright_api.expect(page.locator("#run-status")).to_contain_text("The last request failed")
    assert _error_badges(page) == dict.fromkeys(OUTPUTS, 0)  # the error is reported once, not over the panels

    with page.expect_file_chooser() as chooser:  # the transcript from a file, through the "Load .srt / .vtt" button
        page.locator("#load-transcript").click()
    chooser.value.set_files(str(SPACE_DIR / "examples" / "scene.srt"))
    transcript = page.get_by_label("Transcript (SRT or WebVTT)")
    playwright_api.expect(transcript).to_have_value(re.compile("Rachel: Just go. Please, go."))
    playwright_api.expect(page.locator("#run-status")).to_contain_text("✔ Loaded scene.srt into the transcript box")

    page.get_by_text("Sample scene (one video + SRT)").click()  # the server still serves after the error
    page.locator("#predict-scene").click()
    _wait_for_results(page, 4)
    results = page.locator("#results").inner_text()
    assert results.count("no face found") == 2 and "Oh my God. I can not believe you just said that." in results
    playwright_api.expect(page.locator("#run-status")).to_contain_text("✔ Predicted 4 utterance(s)")
    assert _error_badges(page, (*OUTPUTS, "#run-status")) == dict.fromkeys((*OUTPUTS, "#run-status"), 0)


def test_pasted_and_imported_rows_in_browser(page, playwright_api):
    table, expect = page.locator("#conversation-table"), playwright_api.expect
    rows = [["Phoebe", "Smelly cat, smelly cat!"], ["Joey", "How you doin'?"], ["Chandler", "Could I BE more sure?"]]
    page.locator("#paste-rows textarea").fill("\n".join("\t".join(row) for row in rows))  # as a spreadsheet copies
    page.locator("#load-rows").click()
    expect(table).to_contain_text("Smelly cat, smelly cat!")
    expect(page.locator("#run-status")).to_contain_text("✔ Loaded 3 row(s) from the pasted text")
    page.locator("#predict-conversation").click()
    _wait_for_results(page, 3)  # one output row per pasted row
    results = page.locator("#results").inner_text()
    assert all(speaker in results and utterance in results for speaker, utterance in rows)

    page.locator("#paste-rows textarea").fill("Ross\tHi\tross.wav\t\tnot-a-column")  # 5 columns: refused
    page.locator("#load-rows").click()
    page.get_by_text("Pasted rows, line 1 has 5 columns").wait_for(timeout=PREDICTION_TIMEOUT_MS)
    expect(page.locator("#run-status")).to_contain_text("The last request failed")
    assert _error_badges(page, ("#conversation-table", *OUTPUTS)) == dict.fromkeys(
        ("#conversation-table", *OUTPUTS), 0
    )
    expect(table).to_contain_text("Smelly cat, smelly cat!")  # the table is left as it was

    with page.expect_file_chooser() as chooser:
        page.locator("#import-rows").click()
    chooser.value.set_files(str(SPACE_DIR / "examples" / "conversation.json"))
    expect(table).to_contain_text("rachel.mp4")
    expect(page.locator("#run-status")).to_contain_text("✔ Loaded 5 row(s) from conversation.json")


def test_error_state_clears_after_a_success_elsewhere(page, playwright_api):
    page.locator("#paste-rows textarea").fill("Ross\tHi\tmissing.wav")
    page.locator("#load-rows").click()
    playwright_api.expect(page.locator("#conversation-table")).to_contain_text("missing.wav")
    page.locator("#predict-conversation").click()  # the audio cell names a file that was not uploaded
    page.get_by_text("no uploaded file has that name").first.wait_for(timeout=PREDICTION_TIMEOUT_MS)
    playwright_api.expect(page.locator("#run-status")).to_contain_text("The last request failed")

    page.get_by_role("tab", name="Single utterance").click()  # a success in another tab, with other outputs
    page.get_by_label("Utterance", exact=True).fill("We were on a break!")
    page.locator("#predict-single").click()
    playwright_api.expect(page.locator("#run-status")).to_contain_text("✔ Predicted the single utterance")
    assert _error_badges(page, (*OUTPUTS, "#run-status")) == dict.fromkeys((*OUTPUTS, "#run-status"), 0)
    badges = "() => [...document.querySelectorAll('.error')].filter(e => !e.closest('.toast-body')).length"
    assert page.evaluate(badges) == 0, "an error badge (other than the closing toast) is visible after a success"


@pytest.mark.parametrize("viewport", [DESKTOP, NARROW], ids=["1280x800", "800x900"])
def test_no_control_is_clipped(page, viewport, tmp_path):
    page.set_viewport_size(viewport)
    for tab in TABS:
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(500)  # let the tab lay out
        assert _clipped_after_settling(page) == [], f"clipped controls in the {tab!r} tab at {viewport}"
        page.screenshot(path=tmp_path / f"{tab.split()[0].lower()}-{viewport['width']}.png", full_page=True)
