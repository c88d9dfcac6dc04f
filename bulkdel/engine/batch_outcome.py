"""What became of one batch: the final bucket of every id (``BatchOutcome``).

The one outcome type of a batch: ``BatchRunner.process`` returns it, ``delete_batch`` gives it
to a task queue (it serialises to JSON), and a job worker settles it in Redis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchOutcome"]


@dataclass
class BatchOutcome:
    """The final bucket of every id of one batch.

    Attributes:
        deleted: ids the server deleted.
        missing: ids the server did not know (not after an ambiguous attempt).
        missing_after_retry: missing ids that an earlier attempt may have deleted.
        failed: ``(id, error, status, attempts)`` of ids given up on.
        unsettled: ids the call stopped without (the run was stopped first): sent and
            unanswered, or never sent; empty when the outcome is complete.
    """

    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    missing_after_retry: list[str] = field(default_factory=list)
    failed: list[tuple[str, str, int | None, int]] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        """Ids with a final bucket (``unsettled`` ones are not counted)."""
        return (
            len(self.deleted) + len(self.missing) + len(self.missing_after_retry) + len(self.failed)
        )

    @property
    def complete(self) -> bool:
        """Every id of the batch has its final bucket."""
        return not self.unsettled

    def failed_json(self) -> str:
        """The failures as the settle script takes them."""
        return json.dumps([list(f) for f in self.failed], ensure_ascii=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``failed`` as objects with ``fileId``, ``error``, ``status``,
        ``attempts`` (as ``failed.jsonl`` has them); ``unsettled`` only when there are such
        ids."""
        data: dict[str, Any] = {
            "deleted": list(self.deleted),
            "missing": list(self.missing),
            "missing_after_retry": list(self.missing_after_retry),
            "failed": [
                {"fileId": i, "error": e, "status": s, "attempts": a} for i, e, s, a in self.failed
            ],
        }
        if self.unsettled:
            data["unsettled"] = list(self.unsettled)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BatchOutcome:
        """The outcome ``to_dict`` gave.

        Raises:
            ValueError: a bucket is missing or not of the shape ``to_dict`` writes.
        """
        try:
            failed = [
                # ``file_id``: what earlier releases wrote
                (
                    str(f["fileId" if "fileId" in f else "file_id"]),
                    str(f["error"]),
                    _status(f["status"]),
                    int(f["attempts"]),
                )
                for f in data["failed"]
            ]
            deleted, missing, after = (
                _strings(data[name]) for name in ("deleted", "missing", "missing_after_retry")
            )
            unsettled = _strings(data.get("unsettled", []))
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a BatchOutcome: {error!r}") from None
        return cls(deleted, missing, after, failed, unsettled)

    def to_json(self) -> str:
        """``to_dict`` as a JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchOutcome:
        """The outcome ``to_json`` gave.

        Raises:
            ValueError: not JSON, or not of the shape ``to_json`` writes.
        """
        data = json.loads(text)
        if not isinstance(data, dict):
            data = {}  # from_dict names the first bucket missing
        return cls.from_dict(data)


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"a list of ids expected, got {values!r:.80}")
    return list(values)


def _status(value: Any) -> int | None:
    return None if value is None else int(value)
