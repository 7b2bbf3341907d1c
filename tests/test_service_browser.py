"""The page at ``GET /`` in a real headless browser (Debian's chromium + chromium-driver, through selenium).

Pick a user, see the top-10 with titles, rate items and watch the list change; a new user starts
from the popularity list (cold start, said on the page) and is folded in from the first rating.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest
from ci_support import missing_dependency

if importlib.util.find_spec("fastapi") is None:
    missing_dependency("the service needs the 'serve' extra: pip install 'mfrec[serve]'")
if importlib.util.find_spec("selenium") is None:
    missing_dependency("the browser test needs selenium (the dev extra)")


def _find(names: tuple[str, ...], paths: tuple[str, ...]) -> str | None:
    found = [shutil.which(name) for name in names] + [p for p in paths if os.access(p, os.X_OK)]
    return next((f for f in found if f), None)


CHROMIUM = _find(("chromium", "chromium-browser", "google-chrome"), ("/usr/bin/chromium", "/usr/lib/chromium/chromium"))
DRIVER = _find(("chromedriver",), ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"))
if CHROMIUM is None or DRIVER is None:
    missing_dependency(
        "no headless browser: install Debian's chromium and chromium-driver (apt-get install chromium "
        "chromium-driver) to run the page test"
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from service_support import Server, save_small_model  # noqa: E402

from mfrec.service.store import read_log  # noqa: E402

WAIT_S = 60


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    server = Server(save_small_model(folder / "model"), folder / "log.sqlite")
    yield server, folder / "log.sqlite"
    server.stop()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def listed(driver, user: str | None = None) -> list[tuple[int, str]]:
    """(item, shown name) of each row of the list, best first (the name cell reads 'Film 12 (12)'); read in
    one script call, so a list being redrawn is never half read. Empty while the list is not ``user``'s."""
    shown, texts = driver.execute_script(
        "const b = document.getElementById('recs');"
        "return [b.dataset.user || '', [...b.querySelectorAll('tr.rec .name')].map((c) => c.textContent)];"
    )
    if user is not None and shown != user:
        return []
    out = []
    for text in texts:
        match = re.fullmatch(r"(.*) \((\d+)\)", text)
        assert match, text
        out.append((int(match.group(2)), match.group(1)))
    return out


def source(driver) -> str:
    return driver.find_element(By.ID, "source").text


def wait_for(driver, condition, message: str):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(lambda d: condition(d), message)


def rate(driver, item: int, value: int) -> None:
    """Click the ``value`` star button on the row of ``item``."""
    for row in driver.find_elements(By.CSS_SELECTOR, "#recs tr.rec"):
        if row.find_element(By.CSS_SELECTOR, ".name").text.endswith(f"({item})"):
            row.find_element(By.CSS_SELECTOR, f"button.rate-{value}").click()
            return
    raise AssertionError(f"item {item} is not listed")


def test_pick_a_user_see_titles_rate_and_watch_the_list_change(served, browser):
    server, log = served
    browser.get(server.url + "/")
    wait_for(browser, lambda d: len(listed(d)) == 10 and source(d) == "model", "the default user's top-10")
    assert "60 users, 30 items" in browser.find_element(By.ID, "model").text

    user = browser.find_element(By.ID, "user")
    user.clear()
    user.send_keys("7")
    browser.find_element(By.ID, "show").click()
    wait_for(browser, lambda d: source(d) == "model" and len(listed(d, "7")) == 10, "user 7's top-10")
    before = listed(browser, "7")
    assert all(name == f"Film {item}" for item, name in before)  # titles, not bare ids

    top, second = before[0][0], before[1][0]
    rate(browser, top, 1)
    wait_for(browser, lambda d: source(d) == "fold-in" and top not in [i for i, _ in listed(d)], "the list after a 1")
    rate(browser, second, 5)
    wait_for(browser, lambda d: second not in [i for i, _ in listed(d)], "the list after a 5")
    after = listed(browser)
    assert len(after) == 10 and after != before
    assert browser.find_element(By.ID, "error").text == ""
    logged = read_log(log)
    mine = logged.loc[logged["user"] == "7"].set_index("item")["rating"].to_dict()
    assert mine == {str(top): 1.0, str(second): 5.0}


def test_a_new_user_starts_from_nothing_and_is_folded_in_from_the_first_rating(served, browser):
    server, log = served
    browser.get(server.url + "/")
    wait_for(browser, lambda d: len(listed(d)) == 10, "the page")
    browser.find_element(By.ID, "newuser").click()
    guest = browser.find_element(By.ID, "user").get_attribute("value")
    assert guest.startswith("guest-")
    wait_for(browser, lambda d: source(d).startswith("popularity") and listed(d, guest), "the cold-start list")
    assert "cold start" in source(browser)  # said on the page, not only in the JSON
    popular = listed(browser, guest)
    assert len(popular) == 10

    pick = popular[3][0]
    rate(browser, pick, 5)
    wait_for(browser, lambda d: source(d) == "fold-in" and pick not in [i for i, _ in listed(d)], "the folded-in list")
    assert listed(browser) != popular
    logged = read_log(log)
    assert logged.loc[logged["user"] == guest, ["item", "rating"]].values.tolist() == [[str(pick), 5.0]]


def test_the_page_needs_nothing_from_the_network(served):
    page = Path(__file__).resolve().parents[1] / "src" / "mfrec" / "service" / "page.py"
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page.read_text())
