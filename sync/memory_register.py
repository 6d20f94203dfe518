"""The register kept in memory: a complete :class:`~sync.register.Register` for tests and demos.

It holds what it is given (assets, people) and what it takes (sightings by id, reports by
session), answers every item as a register would (accepted, duplicate by ``sighting_id``,
rejected with a reason, conflict with the register's side), and can be told to be out of
reach, to refuse the token, or to lose its answer after applying a batch, so the engine and
the contract tests (``tests/contract/``) meet the same faults the network adapters meet.

Nothing survives the process: it is not offered as ``register.adapter``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sync.errors import RegisterError, RegisterRefused, RegisterUnavailable
from sync.register import ItemResult, ItemStatus, Register
from sync.sighting import Outgoing

if TYPE_CHECKING:
    from sync.asset import Asset
    from sync.person import Person

__all__ = ["MemoryRegister"]


class MemoryRegister(Register):
    """A register in memory; its attributes are its state and its faults, set freely.

    Args:
        assets: the expected inventory it answers.
        people: the people a door kiosk may badge; None: it keeps no people.

    State:
        stored: sighting id -> the sighting (or intake record) as first stored.
        store_counts: how many times each sighting id was stored (1 each, or a double).
        batches: the sighting ids of each batch that reached it, in order.
        reports: session id -> the report as last published.

    Faults and answers:
        refusals: sighting id -> reason: that item is rejected (a dead letter).
        disputes: sighting id -> (reason, register side): that item is a conflict.
        down: the next ``down`` requests fail as out of reach (each one uses one up).
        lose_answers: the next ``lose_answers`` batches are applied, then their answer is
            lost (out of reach): a re-send must find them as duplicates.
        retry_after: the ``Retry-After`` an outage asks for.
        token_refused: every request is refused as a wrong token would be.
    """

    def __init__(self, assets: Iterable[Asset] = (),
                 people: Iterable[Person] | None = None) -> None:
        self.assets: list[Asset] = list(assets)
        self.people_list: list[Person] | None = None if people is None else list(people)
        self.stored: dict[str, Outgoing] = {}
        self.store_counts: Counter[str] = Counter()
        self.batches: list[list[str]] = []
        self.reports: dict[str, dict[str, Any]] = {}
        self.refusals: dict[str, str] = {}
        self.disputes: dict[str, tuple[str, Mapping[str, Any]]] = {}
        self.down = 0
        self.lose_answers = 0
        self.retry_after: float | None = None
        self.token_refused = False
        self.closed = False
        self._lock = threading.Lock()

    def _answer(self) -> None:
        """Raise the fault a request meets now, if any (call with the lock held)."""
        if self.token_refused:
            raise RegisterRefused("the memory register refused the token")
        if self.down:
            self.down -= 1
            raise RegisterUnavailable("the memory register is out of reach",
                                      retry_after=self.retry_after)

    def expected_assets(self) -> list[Asset]:
        """The assets it was given.

        Raises:
            RegisterUnavailable: it is told to be out of reach.
            RegisterRefused: it is told to refuse the token.
        """
        with self._lock:
            self._answer()
            return list(self.assets)

    def check(self) -> None:
        """Answer, or raise the fault it is told to have (see :meth:`expected_assets`)."""
        with self._lock:
            self._answer()

    def people(self) -> list[Person]:
        """The people it was given.

        Raises:
            RegisterUnavailable, RegisterRefused: as :meth:`expected_assets`.
            RegisterError: it was given no people.
        """
        with self._lock:
            self._answer()
            if self.people_list is None:
                raise RegisterError("the memory register keeps no people: a door kiosk"
                                    " needs a register that does")
            return list(self.people_list)

    def push(self, records: Sequence[Outgoing]) -> list[ItemResult]:
        """Take a batch; one result per record, in order (see the class for the answers).

        Raises:
            RegisterUnavailable: out of reach (nothing applied), or the answer was lost
                (everything applied).
            RegisterRefused: the token is refused (nothing applied).
        """
        with self._lock:
            self._answer()
            self.batches.append([r.sighting_id for r in records])
            results = [self._take(record) for record in records]
            if self.lose_answers:
                self.lose_answers -= 1
                raise RegisterUnavailable("the memory register applied the batch and its"
                                          " answer was lost", retry_after=self.retry_after)
            return results

    def _take(self, record: Outgoing) -> ItemResult:
        sighting_id = record.sighting_id
        if sighting_id in self.refusals:
            return ItemResult(sighting_id, ItemStatus.REJECTED, self.refusals[sighting_id])
        if sighting_id in self.disputes:
            reason, side = self.disputes[sighting_id]
            return ItemResult(sighting_id, ItemStatus.CONFLICT, reason, dict(side))
        if sighting_id in self.stored:
            return ItemResult(sighting_id, ItemStatus.DUPLICATE)
        self.stored[sighting_id] = record
        self.store_counts[sighting_id] += 1
        return ItemResult(sighting_id, ItemStatus.ACCEPTED)

    def publish_report(self, report: Mapping[str, Any]) -> list[str]:
        """Keep the report by its session; returns ``["memory:<session_id>"]``.

        Raises:
            RegisterError: the report has no session id.
            RegisterUnavailable, RegisterRefused: as :meth:`expected_assets`.
        """
        session_id = report.get("session_id")
        if not isinstance(session_id, str) or not session_id:
            raise RegisterError("the report has no session_id: it cannot be published")
        with self._lock:
            self._answer()
            self.reports[session_id] = dict(report)
            return [f"memory:{session_id}"]

    def close(self) -> None:
        """Nothing to release; it keeps its state for whoever looks afterwards."""
        self.closed = True
