"""Uploading traces: settings, hand-off, queue, worker, request bodies, redaction,
share rules, auth and the API client.

May import: the base modules, notes, attribution (the store's view of a trace).
"""
