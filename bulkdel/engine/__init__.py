"""Internal: the machinery of a run (reading, batching, pacing, retrying, paging). Not a public
API: import what you need from ``bulkdel``."""
