"""A headless Chromium for pictures of the console page (``zafka console --screenshot``).

Owns: the Chromium command line (flags that work as root in a container: no sandbox, no GPU,
no /dev/shm, nothing fetched from the network, a fresh profile each time) and running it.

Must never: reach outside this machine (no background networking, no component updates).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--hide-scrollbars")
WINDOW = (1500, 1100)
SCREENSHOT_TIMEOUT_S = 60.0


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(url: str, target: Path, *, wait_ms: int = 3_000) -> None:
    """Save a PNG of ``url`` as Chromium renders it after ``wait_ms`` of its scripts."""
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium found (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="zafka-chromium-") as profile:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                   f"--window-size={WINDOW[0]},{WINDOW[1]}",
                   f"--virtual-time-budget={wait_ms}", f"--screenshot={target.resolve()}", url]
        done = subprocess.run(command, capture_output=True, timeout=SCREENSHOT_TIMEOUT_S,
                              check=False)
    if done.returncode != 0 or not target.exists():
        raise RuntimeError(f"chromium could not take the screenshot (status "
                           f"{done.returncode}): {done.stderr.decode(errors='replace')[-500:]}")


__all__ = ["CHROMIUM_FLAGS", "find_chromium", "screenshot"]
