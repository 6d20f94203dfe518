"""Suite-wide hooks and fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sync.receiver.pgcluster import ScratchPostgres
    from tests.nautobot.seed import Seeder
    from tests.nautobot.server import NautobotServer


# The device-in-a-box rig (tests/vm/) boots QEMU machines: collected only when asked for.
collect_ignore = [] if os.environ.get("STOCKTAKER_VM") == "1" else ["vm"]


# -- Nautobot integration tests (marker ``nautobot``): last in the run, skipped only on request --

_NAUTOBOT_DESELECTED: list[int] = [0]
_POSTGRES_DESELECTED: list[int] = [0]


def _order(item: pytest.Item) -> int:
    if item.get_closest_marker("nautobot") is not None:
        return 2
    return 1 if item.get_closest_marker("postgres") is not None else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the ``postgres`` tests, then the ``nautobot`` ones, after every other test
    (they start real servers)."""
    items.sort(key=_order)


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Count the ``nautobot`` and ``postgres`` tests left out, for the summary line."""
    _NAUTOBOT_DESELECTED[0] += sum(1 for item in items
                                   if item.get_closest_marker("nautobot") is not None)
    _POSTGRES_DESELECTED[0] += sum(1 for item in items
                                   if item.get_closest_marker("postgres") is not None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """Say so when ``-m`` left the Nautobot integration tests out."""
    if _NAUTOBOT_DESELECTED[0] and "nautobot" in (config.getoption("markexpr") or ""):
        terminalreporter.write_line(
            f"{_NAUTOBOT_DESELECTED[0]} Nautobot integration tests skipped on request"
            " (-m \"not nautobot\"): the nautobot adapter was not checked against a real"
            " Nautobot in this run", yellow=True)
    if _POSTGRES_DESELECTED[0] and "postgres" in (config.getoption("markexpr") or ""):
        terminalreporter.write_line(
            f"{_POSTGRES_DESELECTED[0]} PostgreSQL tests skipped on request"
            " (-m \"not postgres\"): the receiver was not checked on PostgreSQL in this run",
            yellow=True)
    if collect_ignore:
        terminalreporter.write_line(_vm_summary(), yellow=True)


def _vm_summary() -> str:
    """What became of the device-in-a-box tests (tests/vm/), not collected in this run."""
    if os.environ.get("STOCKTAKER_VM_NEXT") == "1":  # ./dev.sh test runs them next
        return ("the device-in-a-box tests (tests/vm/, QEMU) run next, as the last stage of"
                " ./dev.sh test")
    if os.environ.get("STOCKTAKER_SKIP_VM") == "1":
        return ("the device-in-a-box tests (tests/vm/, QEMU) skipped on request (--no-vm or"
                " STOCKTAKER_SKIP_VM=1): the image, systemd and power cuts were not checked"
                " in this run")
    return ("the device-in-a-box tests (tests/vm/, QEMU) were not collected: they run as the"
            " last stage of ./dev.sh test, or with STOCKTAKER_VM=1 (README, \"The device in"
            " a box\"); the image, systemd and power cuts were not checked in this run")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ScratchPostgres]:
    """A real PostgreSQL on loopback for the whole session (tests/postgres.py).

    A set-up that fails (apt refused, PostgreSQL would not start) fails the tests with
    the reason.
    """
    from tests.postgres import PostgresMissing, start_postgres

    try:
        server = start_postgres()
    except PostgresMissing as exc:
        pytest.fail(f"the PostgreSQL for the receiver tests could not be set up: {exc}",
                    pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nautobot_server() -> Iterator[NautobotServer]:
    """A real Nautobot on loopback for the whole session (tests/nautobot/server.py).

    A set-up that fails (no network for pip, apt refused) fails the tests with the reason.
    """
    from tests.nautobot.server import NautobotServer, SetupError

    server = NautobotServer()
    try:
        server.start()
    except SetupError as exc:
        pytest.fail(f"the Nautobot for the integration tests could not be set up: {exc}",
                    pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def seeder(nautobot_server: NautobotServer) -> Iterator[Seeder]:
    """A client that makes locations and devices in that Nautobot, with the custom field
    ``last_audited`` for the adapter's optional audit date."""
    from tests.nautobot.seed import Seeder

    seeder = Seeder(nautobot_server.url, nautobot_server.token)
    seeder.audited_field("last_audited")
    yield seeder
    seeder.close()
