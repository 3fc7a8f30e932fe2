"""``traces-git ci``: a pull request's range, its report, enrichment, output, remap.

May import: the base modules, notes, sync (the notes transport), upload (the API
client and auth), views (per-file line counts).
"""
