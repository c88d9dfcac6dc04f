"""Listing: which files a selection names, read page by page from ImageKit's listing API
(``selection`` says what is asked, ``pager`` reads it, ``cursor`` resumes it, ``host`` serves a
listing to a run that did not start it)."""
