"""Install and uninstall, official-hook coexistence, the ``status``/``doctor`` checks.

May import: every subpackage but commands (status reports on all of them).
"""
