"""What is left of the old engine folder: the de-duplicator, on its way to a room of its own."""
