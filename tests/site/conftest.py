"""Fixtures of the site tests: one strict build per session, a local server, a browser.

The build runs once per test session even under pytest-xdist: the first
worker to take the file lock builds into a folder that every worker shares,
and the others wait for it and reuse it.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import threading
import time

import pytest
from filelock import FileLock

from sitetools import CHROMIUM, CHROMIUM_ARGS, ROOT, BuiltSite, mkdocs_build


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    """Build the book once per session, shared by all xdist workers."""
    # Under xdist each worker has its own basetemp inside the session's folder.
    basetemp = tmp_path_factory.getbasetemp()
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    site_dir = shared / "built-site"
    log_file = shared / "built-site.log"
    done = shared / "built-site.json"
    with FileLock(str(shared / "built-site.lock")):
        if not done.exists():
            shutil.rmtree(site_dir, ignore_errors=True)
            started = time.perf_counter()
            result = mkdocs_build(ROOT / "mkdocs.yml", site_dir)
            seconds = time.perf_counter() - started
            log_file.write_text(result.stdout + result.stderr, encoding="utf-8")
            if result.returncode != 0:
                pytest.fail(f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}")
            done.write_text(json.dumps({"seconds": seconds}), encoding="utf-8")
    facts = json.loads(done.read_text(encoding="utf-8"))
    return BuiltSite(site_dir, log_file.read_text(encoding="utf-8"), facts["seconds"])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output readable
        pass


@pytest.fixture(scope="session")
def site_server(built_site):
    """Serve the built site on 127.0.0.1 at a free port; yield its base URL.

    Each xdist worker that needs it starts its own server.
    """
    handler = functools.partial(_QuietHandler, directory=str(built_site.path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", _free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Launch Debian's Chromium through Playwright.

    Outside CI a machine without Chromium skips the browser tests; with
    CI=true a missing browser is a failure.
    """
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found; install it with: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()
