"""The line: signed, acknowledged requests between parties, and a log each party verifies on its own.

Pure domain code (no I/O but the key files of :mod:`.keys`): canonical JSON (RFC 8785), Ed25519 keys
and signatures, log entries and their hash chains, the request life cycle, transcript verification.
Format and rules: ``docs/line.md``.
"""
