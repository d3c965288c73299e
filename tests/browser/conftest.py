"""Fixtures for the browser tests: live daphne servers and Debian's chromium.

Each server is a real daphne subprocess with its own SQLite file, so users are made
through the UI or a `manage.py shell` subprocess, never through pytest-django's test
database (these tests are not django_db). Playwright's sync API cannot run inside a
running asyncio loop, so every browser test is a plain sync function, and the browser
tests run after the rest of the suite (see pytest_collection_modifyitems).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser.servers import (
    USER_PASSWORD,
    Process,
    SiteServer,
    manage,
    redis_available,
    site_env,
    start_daphne,
    start_redis,
    start_simulator,
    stop_all,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BROWSER_DIR = Path(__file__).resolve().parent
# Seconds between the simulator's chunks: a [sim:long] reply (400 chunks) streams
# for about 8 s, long enough to press stop or close the tab while it runs.
CHUNK_DELAY = 0.02
# Default wait for expect() and for Playwright actions, in milliseconds.
DEFAULT_TIMEOUT_MS = 10_000

# Every process started in this session, so a failing test can show their logs.
_processes: list[Process] = []


@pytest.fixture(scope="session", autouse=True)
def end_every_process() -> Iterator[None]:
    """At the end of the session, end every process a test started (by group),
    whether or not its test or fixture stopped it: a failing test must not leave a
    daphne serving."""
    yield
    stop_all()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark the tests in this folder `browser` and run them after all the others.

    Running them last keeps Playwright's own event loop away from pytest-asyncio's
    tests, and gives the quick unit tests' verdict first.
    """
    browser_items = []
    other_items = []
    for item in items:
        if BROWSER_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)
            browser_items.append(item)
        else:
            other_items.append(item)
    items[:] = other_items + browser_items


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the item, so fixtures can see a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# --- servers ------------------------------------------------------------------


def new_site(tmp_dir: Path, name: str, **env_overrides: str) -> dict[str, str]:
    """Return the environment of a fresh, migrated site database under tmp_dir.

    Migrating takes seconds, so it happens once per session, into a template file
    that each site gets a copy of.
    """
    template = tmp_dir / "migrated.sqlite3"
    if not template.exists():
        manage(site_env(template), "migrate", "--noinput", "--verbosity", "0")
    db_path = tmp_dir / f"{name}.sqlite3"
    shutil.copyfile(template, db_path)
    # SQLite folds its write-ahead log into the file when the last connection
    # closes; should one be left over, it belongs with the copy.
    wal = template.with_name(template.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, db_path.with_name(db_path.name + "-wal"))
    return site_env(db_path, **env_overrides)


def serve_site(name: str, env: dict[str, str], log_dir: Path) -> SiteServer:
    server = start_daphne(name, env, log_dir)
    _processes.append(server.process)
    return server


def _online_env(simulator_url: str) -> dict[str, str]:
    # Short timeouts and no retries: a stall in a test must fail fast, not in 90 s.
    return {
        "MINIMAX_API_KEY": "browser-test-key",
        "MINIMAX_BASE_URL": simulator_url,
        "MINIMAX_FIRST_TOKEN_TIMEOUT": "3",
        "MINIMAX_IDLE_TIMEOUT": "3",
        "MINIMAX_MAX_RETRIES": "0",
    }


@pytest.fixture(scope="session")
def browser_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="session")
def paced_simulator_url(browser_tmp: Path) -> Iterator[str]:
    """The simulator over real HTTP, like `simulator_url`, but paced.

    `simulator_url` sends a whole reply at once (chunk delay 0); a person needs a
    reply that is still streaming to press stop or close the tab on it.
    """
    process, url = start_simulator(browser_tmp, CHUNK_DELAY)
    _processes.append(process)
    yield url
    process.stop()


@pytest.fixture(scope="session")
def chat_server(browser_tmp: Path, paced_simulator_url: str) -> Iterator[SiteServer]:
    """A daphne process whose MiniMax is the simulator, over real HTTP.

    Not named `live_server`: pytest-django's autouse helper would then set up its
    test database for every test that uses it.
    """
    env = new_site(browser_tmp, "browser", **_online_env(paced_simulator_url))
    server = serve_site("daphne-live", env, browser_tmp)
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def live_server_url(chat_server: SiteServer) -> str:
    return chat_server.url


# The MiniMax key of the attack tests' site: a canary that must never show anywhere.
CANARY_KEY = "sk-cnry-7Hq2Wm9XvL4pRt8Zb3Kd6Ns1Jy5Fg0Ae"


@pytest.fixture(scope="session")
def attack_server(browser_tmp: Path) -> Iterator[SiteServer]:
    """A site online with the canary key, upstream the simulator over HTTP (no pacing:
    the attack tests look at what a reply leaves on the page, not how it streams)."""
    simulator, url = start_simulator(browser_tmp, 0, name="simulator-attack")
    _processes.append(simulator)
    env = new_site(
        browser_tmp, "attack", **{**_online_env(url), "MINIMAX_API_KEY": CANARY_KEY}
    )
    try:
        server = serve_site("daphne-attack", env, browser_tmp)
        yield server
        server.process.stop()
    finally:
        simulator.stop()


@pytest.fixture(scope="session")
def offline_server(browser_tmp: Path) -> Iterator[SiteServer]:
    """A daphne process with no API key (the built-in simulator), on a fresh DB."""
    env = new_site(
        browser_tmp, "offline", MINIMAX_SIMULATOR_CHUNK_DELAY=str(CHUNK_DELAY)
    )
    server = serve_site("daphne-offline", env, browser_tmp)
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def offline_server_url(offline_server: SiteServer) -> str:
    return offline_server.url


@pytest.fixture(scope="session")
def two_servers(
    browser_tmp: Path, paced_simulator_url: str
) -> Iterator[tuple[SiteServer, SiteServer]]:
    """Two daphne processes sharing one database and one Redis channel layer."""
    if not redis_available():
        # A failure, not a skip: a green run must mean the browser tests ran.
        pytest.fail("redis-server is not installed (make services installs it)")
    redis, port = start_redis(browser_tmp)
    env = new_site(
        browser_tmp,
        "cluster",
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        **_online_env(paced_simulator_url),
    )
    _processes.append(redis)
    servers: list[SiteServer] = []
    try:
        servers.append(serve_site("daphne-1", env, browser_tmp))
        servers.append(serve_site("daphne-2", env, browser_tmp))
        first, second = servers
        # One database: a user created through either process exists for both.
        second.users = first.users
        yield first, second
    finally:
        for server in servers:
            server.process.stop()
        redis.stop()


# --- the browser ----------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing (make browser-deps installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
        yield browser
        browser.close()


@pytest.fixture
def context(request, browser: Browser, tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies); on failure, print what went wrong."""
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    console: list[str] = []
    context.on(
        "page",
        lambda page: page.on(
            "console",
            lambda msg: console.append(f"{page.url} [{msg.type}] {msg.text}"),
        ),
    )
    log_marks = {id(process): process.log_size() for process in _processes}
    yield context
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        _print_failure_details(context, console, log_marks, tmp_path)
    context.close()


def _print_failure_details(
    context: BrowserContext, console: list[str], log_marks: dict, tmp_path: Path
) -> None:
    for number, page in enumerate(context.pages):
        if not page.is_closed():
            shot = tmp_path / f"page-{number}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of {page.url}: {shot}")
    print("--- browser console ---")
    print("\n".join(console) or "(nothing)")
    for process in _processes:
        print(f"--- {process.name} output during the test ---")
        print(process.log(log_marks.get(id(process), 0))[-8000:] or "(nothing)")


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, server: SiteServer, username: str = "alice") -> Page:
    """Log page in on server as username (created there once), through /login/."""
    server.ensure_user(username)
    page.goto(f"{server.url}/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(USER_PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator(
        "[type=submit]"
    ).click()
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


@pytest.fixture
def signed_in_page(page: Page, chat_server: SiteServer) -> Page:
    """A page signed in on the live server, showing the chat for a new conversation."""
    sign_in(page, chat_server)
    page.goto(f"{chat_server.url}/")
    return page
