"""Parley: an open deconfliction line for shared airspace, built on ASTM F3548-21."""

__version__ = "0.1.0"
