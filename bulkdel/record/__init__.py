"""The record of a run, the only proof of what was deleted: the ``ledger`` every outcome goes
through, the ``report`` and its ``writer``, the ``manifest``, the ``journal`` that lets a run
resume, the ``audit`` line, and ``verify`` that checks a report against the server."""
