"""The demo page in a real headless Chromium: a resident registers and reports a flat with a
photo, the leader claims it in the team's group, the resident hears back. Screenshots of
each step are kept (``DEMO_SCREENSHOTS`` or the test's tmp dir).

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package (which
then drives that browser: nothing is downloaded); without them the test is skipped and
says which is missing.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_telegram.objects import make_jpeg
from tests.test_demo import demo_url  # noqa: F401  (the module's own demo process)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
PATIENCE = 60


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if CHROMIUM is None or DRIVER is None:
        return "Chromium is not installed (apt-get install chromium chromium-driver)"
    return None


MISSING = _missing()
if MISSING is not None:  # a warning, so `make test` (pytest -q) shows the reason too
    warnings.warn(f"the browser test of the demo is skipped: {MISSING}", stacklevel=1)
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"no headless browser: {MISSING}")


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,900", "--lang=zh-CN"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


class Phone:
    """The page as a person uses it: click what shows, type, wait for the bot."""

    def __init__(self, driver: Any, shots: Path) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver = driver
        self.wait = WebDriverWait(driver, PATIENCE, poll_frequency=0.1)
        self.shots = shots
        self.count = 0

    def _click(self, xpath: str) -> None:
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        def clicked(driver: Any) -> bool:
            found = driver.find_elements(By.XPATH, xpath)
            if not found:
                return False
            try:
                found[-1].click()  # the page redraws on every update: retry a stale one
            except StaleElementReferenceException:
                return False
            return True

        self.wait.until(clicked, f"nothing to click at {xpath}")

    def press(self, text: str) -> None:
        """An inline button under the newest message that has it."""
        self._click(f"//div[@id='messages']//button[normalize-space(.)='{text}']")

    def key(self, text: str) -> None:
        """A reply-keyboard button."""
        self._click(f"//div[@id='keyboard']//button[normalize-space(.)='{text}']")

    def be(self, persona: str) -> None:
        self._click(f"//li[@data-persona='{persona}']")

    def open_chat(self, title: str) -> None:
        self._click(f"//ul[@id='chats']/li[contains(., '{title}')]")

    def type(self, text: str) -> None:
        from selenium.webdriver.common.by import By

        box = self.driver.find_element(By.ID, "text")
        box.send_keys(text)
        self.driver.find_element(By.ID, "send").click()

    def photo(self, path: Path) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.ID, "attach").click()
        self.driver.find_element(By.ID, "photo-file").send_keys(str(path))

    def sees(self, text: str) -> None:
        from selenium.webdriver.common.by import By

        self.wait.until(lambda d: text in d.find_element(By.ID, "messages").text,
                        f"never saw {text!r}")

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.shots / f"{self.count:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path


def test_register_report_claim_and_hear_back_in_a_browser(
    browser: Any, demo_url: str, tmp_path: Path,  # noqa: F811
) -> None:
    shots = Path(os.environ.get("DEMO_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    picture = tmp_path / "door.jpg"
    picture.write_bytes(make_jpeg(320, 240, (150, 110, 80)))
    browser.get(demo_url)
    phone = Phone(browser, shots)
    phone.be("resident")
    phone.type("/start")
    phone.press("简体中文")
    phone.press("龙江路社区")
    phone.press("3栋 · 1网格")
    phone.press("完成")
    phone.sees("都设置好了")
    phone.shot("resident-registered")
    phone.type("/report")
    phone.press("👀 可疑人员或行为")
    phone.sees("请简单说说")
    phone.type("3栋502晚上常有陌生人进出，搬很多箱子")
    phone.sees("有照片吗")
    phone.photo(picture)
    phone.sees("目前共 1 张照片")
    phone.press("✅ 完成")
    phone.key("3栋")
    phone.press("🙈 匿名")
    phone.shot("resident-report-summary")
    phone.press("✅ 发送")
    phone.sees("已发送")
    phone.shot("resident-report-sent")
    phone.be("leader")
    phone.open_chat("龙江路巡逻队")
    phone.sees("新线索")
    phone.shot("leader-sees-the-report")
    phone.press("✋ 认领")
    phone.sees("已认领")
    phone.shot("leader-claimed")
    phone.be("resident")
    phone.sees("已经认领")
    print(f"screenshots: {phone.shot('resident-hears-back').parent}")
