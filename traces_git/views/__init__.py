"""Read-only views of the notes: blame, stats and their rendering.

May import: the base modules, notes, ci (titles enrichment).
"""
