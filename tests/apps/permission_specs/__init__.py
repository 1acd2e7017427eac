"""More ModelSpecs, one module per area, so that areas can grow without editing one long file.

Each module imports `register`, `ModelSpec`, `Case` and `LOGIN` from `tests.apps.permission_matrix`
and registers its specs at import; `permission_matrix` imports every module here at its end.
"""
