"""Result envelopes: every test returns {id, engine, start, duration, arguments, output, artifacts}.

The JSON Schemas ship inside the package (`schema/envelope.schema.json`, `schema/result.schema.json`)
and are read with importlib.resources.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import numpy as np

from gaodi.engines.evaluation.version import ENGINE_NAME, ENGINE_VERSION


@dataclass(frozen=True)
class Artifact:
    name: str
    media_type: str
    content: bytes
    description: str

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "media_type": self.media_type, "bytes": len(self.content),
                "sha256": hashlib.sha256(self.content).hexdigest(), "description": self.description}


@dataclass(frozen=True)
class TestResult:
    output: dict[str, Any]
    artifacts: tuple[Artifact, ...] = ()
    warnings: tuple[str, ...] = ()


def jsonable(value: Any) -> Any:
    """Plain JSON types: NumPy scalars to Python, NaN and infinities to None, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def engine() -> dict[str, str]:
    return {"name": ENGINE_NAME, "version": ENGINE_VERSION}


def run_test(test: str, arguments: Mapping[str, Any], body: Callable[[], TestResult]) -> tuple[dict[str, Any], list[Artifact]]:
    """Run one test and wrap what it returns in an envelope."""
    start = now_iso()
    began = time.perf_counter()
    result = body()
    envelope = {
        "id": str(uuid.uuid4()), "test": test, "engine": engine(), "start": start,
        "duration_s": round(time.perf_counter() - began, 6), "arguments": jsonable(arguments),
        "output": jsonable(result.output), "artifacts": [a.describe() for a in result.artifacts],
        "warnings": list(result.warnings),
    }
    return envelope, list(result.artifacts)


def dumps(document: Any) -> str:
    return json.dumps(jsonable(document), ensure_ascii=False, indent=2, allow_nan=False)


def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("gaodi.engines.evaluation").joinpath("schema", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate(document: Any, name: str = "envelope.schema.json") -> None:
    """Raise jsonschema.ValidationError when `document` does not fit the named schema."""
    import jsonschema  # type: ignore[import-untyped]
    from referencing import Registry, Resource

    envelope = load_schema("envelope.schema.json")
    registry: Registry[Any] = Registry().with_resource(envelope["$id"], Resource.from_contents(envelope))
    schema = load_schema(name)
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    validator.validate(document)
