"""The journal: the durable record of a run on disk, that a resumed run continues from and
that ``bulkdel report --journal`` rebuilds a report from."""
