"""`gaodi audit verify`: recompute the audit log's hash chain and report the first broken entry."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gaodi.apps.core import audit


class Command(BaseCommand):
    help = (
        "Audit log tools. `gaodi audit verify` walks the hash-chained audit log from the first entry and "
        "exits 0 if every entry is intact, or 1 naming the first entry that was altered, inserted or "
        "deleted (and why)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        sub.add_parser(
            "verify",
            help="Recompute the hash chain; exit status 0 if intact, 1 at the first broken entry.",
            description="Recompute every entry's hash and link; report the first entry where they disagree.",
        )

    def handle(self, *args, subcommand: str, **options) -> None:
        if subcommand == "verify":
            self.verify()

    def verify(self) -> None:
        result = audit.verify()
        if not result.ok:
            raise CommandError(
                f"BROKEN: audit entry {result.broken_id}: {result.reason} "
                f"({result.checked} entries before it are intact)",
                returncode=1,
            )
        self.stdout.write(f"OK: {result.checked} entries, chain intact")
