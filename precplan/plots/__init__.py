"""Plots, one module per command. matplotlib comes from the ``plot`` extra and is imported
lazily (headless, Agg) only when a plot is asked for."""
