"""The notes under ``refs/notes/traces``: the line format, reading, writing, merging.

Owns: the note format (the one trust boundary for note text), safe note writes,
batch reads of many commits' notes.
May import: the base modules only.
"""
