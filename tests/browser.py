"""`python -m tests.browser`: make Debian's Chromium and its driver available for the demo's
browser test (`tests/test_demo_browser.py`), installing them on a fresh Debian machine.

Never fails the run: when the browser cannot be had (not root, no apt-get, no network), it
says why, and the browser test is then skipped with the same reason.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.debian_packages import apt_install, can_install


def browser_present() -> bool:
    return bool((shutil.which("chromium") or shutil.which("chromium-browser"))
                and shutil.which("chromedriver"))


def main() -> int:
    if browser_present():
        return 0
    if not can_install():
        print("browser: Chromium is not installed and cannot be installed here (needs root and "
              "apt-get); the demo's browser test will be skipped", file=sys.stderr)
        return 0
    print("browser: installing Debian's chromium and chromium-driver for the demo's browser test",
          file=sys.stderr, flush=True)
    try:
        apt_install("chromium", "chromium-driver")
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"browser: could not install Chromium ({error}); the demo's browser test will be "
              "skipped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
