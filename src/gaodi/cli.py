"""The `gaodi` command: Django's management commands under the platform's own name.

`gaodi demo`, `gaodi worker`, `gaodi audit verify`, `gaodi serve` are management commands of the
core app; every stock command (`gaodi migrate`, `gaodi createsuperuser`) works as well.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gaodi.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["gaodi", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
