"""The map in the browser, served by each party node at ``{party}/ui/`` (docs/demo.md)."""
