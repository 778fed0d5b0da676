"""What the Telegram and WhatsApp emulators' worlds share: one lock, a clock, the faults a test
or benchmark injects, and looking up the last message someone was sent.

Each network's ``World`` builds on ``EmulatedWorld`` with its own users, messages and limits;
the HTTP server takes one fault a call (``take_fault``) and acts it out in that network's way.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

FAULT_KINDS = ("error", "slow", "drop", "lost")

Who = TypeVar("Who")  # how the network names a user: a chat id, a wa_id or BSUID
Msg = TypeVar("Msg")  # what the user was sent


@dataclass
class Fault:
    # error (answer ``status``), slow (answer after ``delay`` s), drop (no answer, nothing done),
    # lost (done, the answer dropped)
    kind: str
    remaining: int
    status: int = 500
    delay: float = 0.0
    methods: frozenset[str] | None = None  # only calls of these API methods (None: every call)


class EmulatedWorld(ABC, Generic[Who, Msg]):
    def __init__(self, clock: Callable[[], float]) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.faults: list[Fault] = []
        # Calls each kind of fault has hit ("error 500", "slow", …): what a benchmark injected.
        self.faults_taken: Counter[str] = Counter()

    # ----- faults -------------------------------------------------------------------------
    def inject_fault(
        self,
        kind: str,
        *,
        count: int = 1,
        status: int = 500,
        delay: float = 0.0,
        methods: list[str] | None = None,
    ) -> None:
        """The next ``count`` calls (of ``methods``, lower case, if given) meet this fault."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind}")
        with self.lock:
            chosen = frozenset(m.lower() for m in methods) if methods else None
            self.faults.append(Fault(kind, count, status, delay, chosen))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, method: str | None = None) -> Fault | None:
        """The fault this call meets, if any: the first injected one that covers ``method``."""
        with self.lock:
            for fault in self.faults:
                if fault.remaining > 0 and (fault.methods is None or method in fault.methods):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                    name = {"error": f"error {fault.status}", "slow": f"slow {fault.delay:g} s"}
                    self.faults_taken[name.get(fault.kind, fault.kind)] += 1
                    return fault
            return None

    # ----- looking ------------------------------------------------------------------------
    @abstractmethod
    def messages(self, who: Who) -> list[Msg]:
        """What the business sent ``who``, oldest first."""

    def last_message(self, who: Who) -> Msg | None:
        found = self.messages(who)
        return found[-1] if found else None
