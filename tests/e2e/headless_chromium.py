"""headless_chromium: Debian's Chromium, headless, driven by chromedriver
through Selenium (python3-selenium), for the dashboard tests. A missing
piece fails naming its Debian package; it is never a skip.

    from tests.e2e.headless_chromium import start_browser, By
    browser = start_browser(width=1400, height=2200)
"""
import os

__all__ = ["By", "check_installed", "start_browser"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError as error:
    raise SystemExit(f"FAIL: python3-selenium is required (Debian package python3-selenium): {error}")


def check_installed():
    """AssertionError naming the package when Chromium or its driver is missing."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            raise AssertionError(f"{path} is required (Debian package {package})")


def start_browser(width, height):
    """A headless Chromium with a window of width x height pixels."""
    check_installed()
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.set_script_timeout(30)
    return browser
