"""Build of Parley's compiled parts (all other metadata is in pyproject.toml):

- ``parley.line._ed25519``: Ed25519 verification in C, single and batched (optional: without a C
  compiler the install still succeeds and :mod:`parley.line.ed25519` falls back to OpenSSL through
  ``cryptography``). No ``-march=native``: a built wheel must run on any x86_64 or aarch64 machine.
- The line's hot modules (entries, their checks, life cycles, chains, transcripts) compiled with
  mypyc, the compiler for typed Python that comes with mypy: the same source, about twice as fast
  (verifying a 100,000-entry transcript, signing and parsing entries on a node). Skipped when mypyc
  is not at hand or ``PARLEY_PURE=1``; the package then runs the Python source as it is.
  ``parley.line`` refuses to import compiled modules older than their source (an edit since the
  last build): ``make install`` builds them again.
"""

import os

from setuptools import Extension, setup

#: The modules mypyc compiles (see parley/line/__init__.py, which checks they are not stale).
COMPILED = ["times", "shapes", "bodies", "entry", "lifecycle", "chain", "transcript"]

extensions = [
    Extension(
        "parley.line._ed25519",
        ["src/parley/line/_ed25519.c"],
        optional=True,
        extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra"],
    )
]

if os.environ.get("PARLEY_PURE") != "1":
    try:
        from mypyc.build import mypycify
    except ImportError:
        pass
    else:
        compiled = mypycify(
            [
                "--config-file=",
                "--ignore-missing-imports",
                *(f"src/parley/line/{name}.py" for name in COMPILED),
            ],
            opt_level="3",
            group_name="parley_line",
        )
        for extension in compiled:  # without a C compiler: none of them, and the source runs
            extension.optional = True
        extensions += compiled

setup(ext_modules=extensions)
