"""What identifies a job's input as it is read: a sha256 of every item's value, in order.

A job records the digest at each committed input position, so that a submit resumed from
stdin (which cannot be identified by a file name) is refused when its first items are not
the ones committed.
"""

from __future__ import annotations

import hashlib


class InputDigest:
    """The digest of the input up to any position not hashed past yet.

    Values are hashed when a position at or after them is asked for (``at``); those fed
    and not asked for yet are held (a submitter asks at each commit, so they are few).
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        #: the input position hashed up to
        self.hashed = 0
        self._waiting: list[str] = []

    @property
    def read(self) -> int:
        """The input position fed up to."""
        return self.hashed + len(self._waiting)

    def feed(self, values: list[str], committed: tuple[int, str]) -> bool:
        """The next items' values, in input order; False when they cross the ``committed``
        (position, digest) and the input up to there does not hash to it. Items up to that
        position are hashed at once (none of them is committed again)."""
        self._waiting += values
        at, digest = committed
        if self.hashed < at <= self.read:
            return not digest or self.at(at) == digest
        if self.read < at:
            self.at(self.read)
        return True

    def at(self, position: int) -> str:
        """The digest of the input's first ``position`` items (at least ``hashed``, at most
        ``read``)."""
        take = position - self.hashed
        if take:
            text = "".join(value + "\n" for value in self._waiting[:take])
            self._hash.update(text.encode("utf-8", "surrogateescape"))
            del self._waiting[:take]
            self.hashed = position
        return self._hash.hexdigest()
