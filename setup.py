"""Build of the optional C extension ``parley.line._ed25519`` (all other metadata is in pyproject.toml).

``optional=True``: without a C compiler the install still succeeds and :mod:`parley.line.ed25519`
falls back to OpenSSL through ``cryptography``. No ``-march=native``: a built wheel must run on any
x86_64 or aarch64 machine.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "parley.line._ed25519",
            ["src/parley/line/_ed25519.c"],
            optional=True,
            extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wextra"],
        )
    ]
)
