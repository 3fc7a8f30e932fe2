"""Moving notes between clones: refspec config, the push queue and worker, fetch/merge.

Owns: the notes transport every other part uses (push, fetch, merge, retry).
May import: the base modules, notes.
"""
