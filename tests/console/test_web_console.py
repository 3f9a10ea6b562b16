"""The web console, driven in a real headless Chromium (Debian's chromium + chromedriver
through Selenium) against a real cluster, and refused plainly when asked wrongly.

The page loads with the cluster file's token and not without it, shows a topic just created
with its ISR, a consumer group with its lag, a broker as down soon after it is killed, and
changes the cluster only when the person confirms.  Bad requests — no token, a wrong one, an
unknown path, another method, a huge or malformed body — get clear HTTP errors and change
nothing.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zafka.cli.web_console import Console
from zafka.client.admin import Admin
from zafka.client.consumer import Consumer
from zafka.client.producer import Producer
from zafka.console.browser import CHROMIUM_FLAGS, find_chromium
from zafka.console.server import BODY_BYTES_MAX
from zafka.core.messages import TopicPartition

from tests.integration.wire import wait_until
from zafka.launcher import Cluster

CHROMEDRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    find_chromium() is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
           "chromium-driver; .ci/run installs them)")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from tests.conftest import FAST_TUNABLES

    with Cluster(brokers=3, coordinators=1, tunables=dict(FAST_TUNABLES),
                 data_dir=tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture(scope="module")
def console(cluster: Cluster) -> Iterator[Console]:
    running = Console(str(cluster.cluster_file_path), interval_s=0.5)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if find_chromium() is None or CHROMEDRIVER is None:
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(find_chromium())
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def cell(browser: Any, selector: str) -> str | None:
    """The text of the first element matching ``selector`` on the page, if any (read in
    one script: the page re-renders its tables every second)."""
    found = browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
        selector)
    return None if found is None else str(found)


def request(url: str, *, method: str = "GET", token: str | None = None,
            body: bytes | None = None, headers: dict[str, str] | None = None,
            ) -> tuple[int, dict[str, Any] | str]:
    """(status, JSON or text) of one request, errors included."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    call = urllib.request.Request(url, data=body, method=method, headers=sent)
    try:
        with urllib.request.urlopen(call, timeout=10) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def topics(cluster: Cluster) -> list[str]:
    with Admin(str(cluster.cluster_file_path)) as admin:
        return admin.list_topics()


# --- in the browser ---------------------------------------------------------------------


@needs_browser
def test_the_page_refuses_without_the_token(console: Console, browser: Any) -> None:
    browser.delete_all_cookies()
    browser.get(console.server.url)
    assert "needs its token" in browser.page_source
    assert cell(browser, "#nodes") is None


@needs_browser
def test_the_page_shows_a_topic_just_created_with_its_isr(cluster: Cluster, console: Console,
                                                          browser: Any) -> None:
    with Admin(str(cluster.cluster_file_path)) as admin:
        admin.create_topic("shown", partitions=2, replication_factor=3)
    browser.get(console.login_url)
    assert browser.current_url == console.server.url  # the token left the address bar
    wait_until(lambda: cell(browser, 'tr[data-topic="shown"][data-partition="1"] .isr')
               == "1,2,3", what="the topic's ISR on the page")
    assert cell(browser, "#controller") == "coordinator-1 (term " + \
        str(console.sampler.state["controller"]["term"]) + ")"
    wait_until(lambda: cell(browser, 'tr[data-node="broker-2"] .state') == "up",
               what="broker-2 up")


@needs_browser
def test_the_page_shows_a_group_and_its_lag(cluster: Cluster, console: Console,
                                            browser: Any) -> None:
    path = str(cluster.cluster_file_path)
    with Admin(path) as admin:
        admin.create_topic("lagging", partitions=1, replication_factor=3)
    with Producer(path) as producer:
        for i in range(10):
            producer.send("lagging", b"v", key=str(i).encode()).result()
    with Consumer("lagging", cluster=path, group_id="slow-readers",
                  auto_offset_reset="earliest", enable_auto_commit=False) as consumer:
        wait_until(lambda: consumer.poll(timeout_ms=500), what="a first record")
        consumer.commit({TopicPartition("lagging", 0): 4})
    browser.get(console.server.url)
    wait_until(lambda: cell(browser, 'tr[data-group="slow-readers"] .lag') == "6",
               what="the group's lag on the page")


@needs_browser
def test_the_page_shows_a_killed_broker_as_down(cluster: Cluster, console: Console,
                                                browser: Any) -> None:
    browser.get(console.server.url)
    wait_until(lambda: cell(browser, 'tr[data-node="broker-3"] .state') == "up",
               what="broker-3 up first")
    cluster.kill("broker-3")
    killed = time.monotonic()
    try:
        wait_until(lambda: cell(browser, 'tr[data-node="broker-3"] .state') == "down",
                   timeout=20, what="broker-3 shown down")
        print(f"broker-3 shown down {time.monotonic() - killed:.1f} s after SIGKILL")
    finally:
        cluster.restart("broker-3")
    wait_until(lambda: cell(browser, 'tr[data-node="broker-3"] .state') == "up",
               what="broker-3 shown up again")


@needs_browser
def test_a_write_happens_only_once_confirmed(cluster: Cluster, console: Console,
                                             browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    browser.get(console.server.url)
    form = browser.find_element(By.ID, "create-topic")
    form.find_element(By.NAME, "name").send_keys("from-the-page")
    form.find_element(By.NAME, "replication_factor").clear()
    form.find_element(By.NAME, "replication_factor").send_keys("2")
    form.find_element(By.TAG_NAME, "button").click()
    WebDriverWait(browser, 10).until(expected_conditions.alert_is_present()).dismiss()
    time.sleep(0.5)
    assert "from-the-page" not in topics(cluster)
    form.find_element(By.TAG_NAME, "button").click()
    alert = WebDriverWait(browser, 10).until(expected_conditions.alert_is_present())
    assert "Create topic from-the-page" in alert.text
    alert.accept()
    wait_until(lambda: (cell(browser, "#action-result") or "").startswith("created topic"),
               what="the page reporting the write")
    assert "from-the-page" in topics(cluster)
    wait_until(lambda: cell(browser, 'tr[data-topic="from-the-page"][data-partition="2"] .isr')
               is not None, what="the new topic on the page")


@needs_browser
def test_screenshot_command_writes_a_png(cluster: Cluster, tmp_path: Path) -> None:
    from zafka.cli.main import main

    target = tmp_path / "console.png"
    assert main(["console", "--cluster", str(cluster.cluster_file_path), "--interval", "0.3",
                 "--screenshot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- bad requests (plain HTTP) ----------------------------------------------------------


def test_without_a_token_every_path_is_refused(console: Console) -> None:
    for path in ("", "api/state", "nowhere"):
        status, answer = request(console.server.url + path)
        assert status == 401 and "token" in answer["message"]  # type: ignore[index]


def test_a_wrong_token_is_forbidden_and_changes_nothing(cluster: Cluster,
                                                        console: Console) -> None:
    assert request(console.server.url + "?token=guess")[0] == 403
    assert request(console.server.url + "api/state", token="guess")[0] == 403
    status, _ = request(console.server.url + "api/topics", method="POST", token="guess",
                        body=json.dumps({"name": "by-a-stranger", "partitions": 1,
                                         "replication_factor": 1}).encode(),
                        headers={"X-Zafka-Console": "1",
                                 "Content-Type": "application/json"})
    assert status == 403
    assert "by-a-stranger" not in topics(cluster)


def test_unknown_paths_and_methods_are_plain_errors(console: Console) -> None:
    token = console.token
    assert request(console.server.url + "nowhere", token=token)[0] == 404
    assert request(console.server.url + "api/state", method="DELETE", token=token)[0] == 405
    assert request(console.server.url + "api/nothing", method="POST", token=token,
                   body=b"{}", headers={"X-Zafka-Console": "1"})[0] == 404
    assert request(console.server.url + "x" * 70_000, token=token)[0] == 414
    status, state = request(console.server.url + "api/state", token=token)
    assert status == 200 and state["cluster_id"]  # type: ignore[index]


def test_bad_write_bodies_are_refused_and_change_nothing(cluster: Cluster,
                                                         console: Console) -> None:
    url, token = console.server.url + "api/topics", console.token
    write = {"X-Zafka-Console": "1", "Content-Type": "application/json"}
    huge = json.dumps({"name": "huge", "partitions": 1, "replication_factor": 1,
                       "padding": "x" * (BODY_BYTES_MAX * 4)}).encode()
    assert request(url, method="POST", token=token, body=huge, headers=write)[0] == 413
    good = json.dumps({"name": "unwritten", "partitions": 1, "replication_factor": 1}).encode()
    assert request(url, method="POST", token=token, body=good)[0] == 403  # no write header
    assert request(url, method="POST", token=token, body=b"{not json",
                   headers=write)[0] == 400
    for bad in ({"name": "", "partitions": 1, "replication_factor": 1},
                {"name": "unwritten", "partitions": 0, "replication_factor": 1},
                {"name": "unwritten", "partitions": "3", "replication_factor": 1},
                {"name": "unwritten", "partitions": 1, "replication_factor": 99}):
        status, answer = request(url, method="POST", token=token,
                                 body=json.dumps(bad).encode(), headers=write)
        assert status == 400, (bad, answer)
    assert not {"huge", "unwritten", ""} & set(topics(cluster))
    status, answer = request(console.server.url + "api/topics/no-such-topic/partitions",
                             method="POST", token=token, body=b'{"total": 3}', headers=write)
    assert status == 400 and answer["error"] == "UnknownTopicOrPartition"  # type: ignore[index]
