"""The `gongfu` command line: one module per command group, assembled in `cli.main`.

It may import `api.settings`, `layers/` and `geo/` (and `api.app` only to serve); nothing
outside `cli/` imports it.
"""
