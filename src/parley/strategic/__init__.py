"""Exact 4D strategic conflict detection, as ASTM F3548-21 requires of a USS before it plans."""
