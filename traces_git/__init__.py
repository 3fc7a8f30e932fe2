"""traces-git: link every commit to the AI-agent traces that produced it."""

__version__ = "0.1.0"
