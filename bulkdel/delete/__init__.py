"""Deleting: the entry points a caller runs (``delete_files`` and ``BulkDeleter`` in
``deleter``, ``delete_batch`` in ``batch``, ``preflight``), the records a run opens beside them
(``records``), and the guard around a caller's callbacks (``callbacks``). The machinery they
drive is ``bulkdel.engine``."""
