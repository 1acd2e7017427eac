"""`gaodi model pack`: convert a pickled scikit-learn model to ONNX or skops on the owner's machine.

This command UNPICKLES the given file, which runs any code inside it. It exists for model owners,
to run on their own machine with a model they made; the platform never loads pickle or joblib.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gaodi.engines.evaluation import EvaluationError
from gaodi.engines.evaluation.pack import PACK_WARNING, pack_model


class Command(BaseCommand):
    help = ("Model tools. `gaodi model pack --model model.pkl --format onnx|skops --sample data.csv --out FILE` "
            "converts a scikit-learn model for upload. It unpickles the file: run it only on your own machine.")
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        pack = sub.add_parser("pack", help="Convert a pickled scikit-learn model to ONNX or skops.",
                              description=PACK_WARNING)
        pack.add_argument("--model", type=Path, required=True, help="pickle or joblib file of a scikit-learn model")
        pack.add_argument("--format", choices=["onnx", "skops"], required=True)
        pack.add_argument("--sample", type=Path, required=True, help="a few rows of input data (CSV, Parquet, Excel)")
        pack.add_argument("--out", type=Path, required=True, help="where to write the ONNX or skops file")

    def handle(self, *args: object, subcommand: str, **options: object) -> None:
        if subcommand == "pack":
            self.pack(options["model"], str(options["format"]), options["sample"], options["out"])  # type: ignore[arg-type]

    def pack(self, model: Path, fmt: str, sample: Path, out: Path) -> None:
        print(PACK_WARNING, file=sys.stderr)
        try:
            report = pack_model(model, fmt, sample, out)
        except EvaluationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"wrote {report.out} ({report.format}); inputs: {', '.join(report.features)}")
        self.stdout.write(f"checked on {report.rows_checked} sample rows: {report.agreement:.1%} of predictions agree")
        if report.untrusted_types:
            # Types the platform refuses outright would make every run fail: say so now, not after upload.
            from gaodi.apps.algorithms.evaluation_trust import refusal_reason

            refused = {t: refusal_reason(t) for t in report.untrusted_types}
            approvable = [t for t, why in refused.items() if why is None]
            if approvable:
                self.stdout.write("the platform will ask the evaluator to approve these types: " + ", ".join(approvable))
            for name, why in refused.items():
                if why is not None:
                    self.stderr.write(f"the platform will refuse type {name}, so this file cannot be evaluated: {why}")
        if report.agreement < 1.0:
            self.stderr.write("note: the packed model does not reproduce every prediction of the original "
                              "(ONNX computes in 32-bit floats); check the rows near the decision boundary")
