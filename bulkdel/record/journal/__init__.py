"""Internal: the durable record of a job on disk, and the report rebuilt from it."""
