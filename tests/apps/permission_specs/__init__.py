"""More ModelSpecs, one module per area, so that areas can grow without editing one long file.

Each module imports `register`, `ModelSpec`, `Case` and `LOGIN` relatively (`from ..permission_matrix
import ...`: pytest loads the matrix as `apps.permission_matrix`, and an absolute import would fill a
second copy) and registers its specs at import; `permission_matrix` imports every module here at its end.
"""
