"""dissentry: measure dissent and echo chambers in online political communities."""

__version__ = "0.1.0"
