"""One module per group of ``traces-git`` commands."""
