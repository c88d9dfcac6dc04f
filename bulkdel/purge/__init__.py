"""Purging ImageKit's CDN cache after a delete: ``plan`` says what a delete's cache purge
covers, ``cache`` sends the purges and polls their status under the account's budget."""
