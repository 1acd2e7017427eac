"""`gaodi demo`: a working platform with realistic demo data in one command.

Creates ./var/ (or $GAODI_VAR_DIR), migrates the SQLite database there, loads the demo data if the
database is empty (--reset starts over), prints one login per role, then serves the web application
with a task worker like `gaodi serve` (unless --no-serve).
"""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from gaodi.apps.core import demo
from gaodi.apps.core.models import Organization, User

from .serve import _port


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A plain-text table that stays aligned with Chinese (double-width) characters."""
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(_pad(h, w) for h, w in zip(header, widths, strict=True)) + " |", line]
    out += ["| " + " | ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    out.append(line)
    return "\n".join(out)


class Command(BaseCommand):
    help = (
        "Start a demo of Gaodi: create var/, migrate the SQLite database, load demo data (about 100 "
        "enterprises, 60 algorithm filings in every state, two disclosure batches, model evaluations with signed "
        "certificates and a recommended-catalog entry) if the database is empty, "
        "print a login for each role, then serve the site with a task worker. All demo accounts share the "
        f"password {demo.DEMO_PASSWORD!r}. Refuses to run with GAODI_ENV=production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", action="store_true",
                            help="Delete the SQLite database and uploaded files under var/ first, then reload.")
        parser.add_argument("--seed", type=int, default=7,
                            help="Random seed of the demo data (default: %(default)s); same seed, same data.")
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: %(default)s).")
        parser.add_argument("--port", type=_port, default=8000, help="Port to listen on (default: %(default)s).")
        parser.add_argument("--no-serve", action="store_true",
                            help="Prepare the database and print the logins, but do not start the server.")
        parser.add_argument("--no-worker", action="store_true", help="Serve without a task worker.")

    def handle(self, *args, reset: bool, seed: int, host: str, port: int, no_serve: bool, no_worker: bool,
               verbosity: int, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("gaodi demo creates accounts with a published password; it refuses to run with "
                               "GAODI_ENV=production.")
        var_dir = Path(settings.VAR_DIR)
        var_dir.mkdir(parents=True, exist_ok=True)
        if reset:
            self._reset(var_dir)
        self.stdout.write(f"Database: {self._database_label()}")
        call_command("migrate", interactive=False, verbosity=max(0, verbosity - 1), stdout=self.stdout)
        if demo.has_data():
            self.stdout.write("The database already has data: demo data not loaded (use --reset to start over).")
        else:
            self.stdout.write(f"Loading demo data (seed {seed}) ...")
            self.stdout.flush()
            counts = demo.load_demo(seed)
            states = ", ".join(f"{state} {n}" for state, n in counts["filings_by_state"].items())
            evaluations = counts["evaluations"]
            evaluation_states = ", ".join(f"{state} {n}" for state, n in evaluations["by_state"].items())
            self.stdout.write(self.style.SUCCESS(
                f"Loaded in {counts['seconds']} s: {counts['enterprises']} enterprises in {counts['districts']} "
                f"districts, {counts['organizations']} organizations, {counts['users']} users, "
                f"{counts['filings']} filings ({states}), {counts['batches']} disclosure batches, "
                f"{evaluations['requests']} evaluation requests ({evaluation_states}), "
                f"{evaluations['certificates']} certificates, {evaluations['catalog_entries']} recommended-catalog "
                f"{'entry' if evaluations['catalog_entries'] == 1 else 'entries'}, "
                f"{counts['audit_entries']} audit entries."))
        self._print_logins()
        if no_serve:
            return
        call_command("serve", host=host, port=port, no_worker=no_worker, no_migrate=True, verbosity=verbosity,
                     stdout=self.stdout, stderr=self.stderr)

    def _database_label(self) -> str:
        db = settings.DATABASES["default"]
        if db["ENGINE"] == "django.db.backends.sqlite3":
            return str(db["NAME"])
        return f"{db['ENGINE'].rsplit('.', 1)[-1]} {db.get('NAME', '')} on {db.get('HOST') or 'localhost'}"

    def _reset(self, var_dir: Path) -> None:
        """Delete the embedded SQLite database and media under var/; never anything else."""
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.sqlite3":
            raise CommandError("--reset deletes the embedded SQLite database under var/; this installation uses "
                               "another database (DATABASE_URL). Drop and recreate that database yourself.")
        var = var_dir.resolve()
        path = Path(db["NAME"]).resolve()
        if not path.is_relative_to(var):
            raise CommandError(f"--reset only deletes files under {var}; the database {path} is elsewhere.")
        connections.close_all()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        media = Path(settings.MEDIA_ROOT).resolve()
        if media.is_relative_to(var) and media.exists():
            shutil.rmtree(media)
        self.stdout.write(f"Reset: deleted {path.name} and {media} .")

    def _print_logins(self) -> None:
        users = {u.username: u for u in User.objects.filter(username__in=[lg.username for lg in demo.DEMO_LOGINS])}
        orgs = {o.code: o for o in Organization.objects.filter(code__in=[lg.organization_code
                                                                         for lg in demo.DEMO_LOGINS])}
        rows = []
        for login in demo.DEMO_LOGINS:
            if login.username not in users:
                continue
            org = orgs.get(login.organization_code or "")
            rows.append((login.role, login.username, demo.DEMO_PASSWORD, org.name if org else "-"))
        if not rows:
            self.stdout.write("No demo accounts in this database.")
            return
        self.stdout.write("\nDemo logins (demo data only: every demo account has this same password):")
        self.stdout.write(format_table(("角色 Role", "用户名 Username", "密码 Password", "机构 Organization"), rows))
        self.stdout.flush()
