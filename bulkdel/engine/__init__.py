"""The machinery of a run: ids read from a source, checked and batched, handed to workers that
send each batch with retries and settle every id in the ledger. The entry points that drive it
are in ``bulkdel.delete``; import what you need from ``bulkdel``."""
