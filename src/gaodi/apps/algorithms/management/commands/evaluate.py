"""`gaodi evaluate`: run a test plan against a model file, an endpoint, or recorded decisions.

A thin wrapper around `gaodi.engines.evaluation.cli.run_evaluation`: no database access.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from gaodi.apps.algorithms.evaluation_secrets import clean_header, clean_secret, redact, redact_document
from gaodi.engines.evaluation import EvaluationError
from gaodi.engines.evaluation.cli import run_evaluation
from gaodi.engines.evaluation.data import DEFAULT_MAX_BYTES


class TqdmProgress:
    """The engine's progress steps as a tqdm bar on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None

    def start(self, steps: int) -> None:
        if self.enabled:
            self.bar = tqdm(total=steps, file=sys.stderr, desc="evaluate", unit="step", leave=True)

    def step(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(name)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Command(BaseCommand):
    help = (
        "Evaluate an algorithm model (Art. 15, 66, 67): `gaodi evaluate [--model FILE | --endpoint URL] "
        "--data FILE --plan plan.toml --out DIR` writes DIR/result.json and DIR/report.html. "
        "Without --model/--endpoint the plan must name a `prediction` column (audit mode). See docs/evaluation.md."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", type=Path, help="ONNX (.onnx) or skops (.skops) model file")
        parser.add_argument("--endpoint", help="HTTP prediction endpoint (JSON rows in, predictions out)")
        parser.add_argument("--data", type=Path, required=True, help="test data: CSV (UTF-8/GBK/GB18030), Parquet or Excel")
        parser.add_argument("--plan", type=Path, required=True, help="test plan (TOML)")
        parser.add_argument("--out", type=Path, required=True, help="folder for result.json and report.html")
        parser.add_argument("--trust", action="append", default=[], metavar="TYPE",
                            help="approve one type a skops file would create (repeatable); review it first")
        parser.add_argument("--allow", action="append", default=[], metavar="HOST_OR_CIDR",
                            help="allow an endpoint address that the SSRF guard refuses (operators only)")
        parser.add_argument("--header-env", metavar="HEADER=ENVVAR", default=None,
                            help="send the endpoint's credential in HEADER, read from the environment variable "
                                 "ENVVAR (never from the command line, where other users and the shell history "
                                 "would see it), e.g. --header-env X-API-Key=MODEL_API_KEY")
        parser.add_argument("--max-bytes", type=int, default=None, help="largest data file accepted")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    def handle(self, *args: object, **options: object) -> None:
        progress = TqdmProgress(not options["no_progress"])
        allow = [*getattr(settings, "EVALUATION_ENDPOINT_ALLOWLIST", ()), *options["allow"]]  # type: ignore[misc]
        max_bytes = options["max_bytes"] or getattr(settings, "EVALUATION_MAX_DATA_BYTES", DEFAULT_MAX_BYTES)
        header, secret = _credential(options["header_env"], options["endpoint"])  # type: ignore[arg-type]
        try:
            evaluation = run_evaluation(
                data=options["data"], plan=options["plan"], out=options["out"],  # type: ignore[arg-type]
                model=options["model"], endpoint=options["endpoint"],  # type: ignore[arg-type]
                trusted=options["trust"], allow=allow, max_bytes=max_bytes, progress=progress,  # type: ignore[arg-type]
                headers={header: secret} if secret else None,
                scrub=(lambda document: redact_document(document, secret)) if secret else None,
            )
        except EvaluationError as exc:
            raise CommandError(redact(str(exc), secret)) from None
        except Exception as exc:
            if options.get("traceback"):
                raise
            raise CommandError(redact(f"unexpected error ({type(exc).__name__}): {exc}; rerun with --traceback",
                                      secret)) from None
        finally:
            progress.close()
        verdict = {True: "PASSED", False: "NOT PASSED", None: "no thresholds"}[evaluation.passed]
        out = options["out"]
        self.stdout.write(f"{verdict}: wrote {out}/result.json and {out}/report.html")


def _credential(spec: str | None, endpoint: str | None) -> tuple[str, str]:
    """(header, secret) from --header-env HEADER=ENVVAR, checked as the request form checks them."""
    if not spec:
        return "", ""
    if not endpoint:
        raise CommandError("--header-env: only an --endpoint takes a credential")
    header, sep, variable = spec.partition("=")
    if not sep or not variable.strip():
        raise CommandError(f"--header-env: expected HEADER=ENVVAR, e.g. X-API-Key=MODEL_API_KEY, got {spec!r}")
    value = os.environ.get(variable.strip())
    if value is None:
        raise CommandError(f"--header-env: the environment variable {variable.strip()} is not set")
    try:
        return clean_header(header), clean_secret(value)
    except ValidationError as exc:
        raise CommandError(f"--header-env: {' '.join(exc.messages)}") from None
