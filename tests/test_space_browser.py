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
"""End-to-end test of the Space in headless Chromium: `python space/app.py` served, examples clicked, results read.

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
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
STARTUP_TIMEOUT_S = 90
PREDICTION_TIMEOUT_MS = 30_000

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
    env.update(M2FNET_MODEL=tiny_checkpoint.name, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")  # fmt: skip
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, str(SPACE_DIR / "app.py")], cwd=tiny_checkpoint.parent, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
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
            page = browser.new_page(viewport={"width": 1280, "height": 900})
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
        arg=num_rows, timeout=PREDICTION_TIMEOUT_MS,
    )  # fmt: skip


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

    page.get_by_text("Sample scene (one video + SRT)").click()  # the server still serves after the error
    transcript = page.get_by_label("Transcript (SRT or WebVTT)")
    playwright_api.expect(transcript).to_have_value(re.compile("Rachel: Just go. Please, go."))
    page.locator("#predict-scene").click()
    _wait_for_results(page, 4)
    results = page.locator("#results").inner_text()
    assert results.count("no face found") == 2 and "Oh my God. I can not believe you just said that." in results
