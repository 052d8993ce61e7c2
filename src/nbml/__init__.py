"""Helpers for the notebook pipeline: the notebooks orchestrate, this package computes."""

__version__ = "0.1.0"
