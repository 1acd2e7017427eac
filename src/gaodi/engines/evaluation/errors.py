"""Errors for bad input. Each message is one line that names the key, column or file and the fix."""

from __future__ import annotations


class EvaluationError(Exception):
    """Bad input to an evaluation: the message is meant for the person who gave it."""


class PlanError(EvaluationError):
    """The test plan (TOML) is malformed or asks for something impossible."""


class DataError(EvaluationError):
    """The data file cannot be read, or does not fit the plan."""


class ModelError(EvaluationError):
    """The model file is refused, cannot be loaded, or does not fit the data."""


class EndpointError(ModelError):
    """The HTTP prediction endpoint failed: timeout, garbage answer, error status."""


class UnsafeEndpointError(EndpointError):
    """The endpoint resolves to an address the SSRF guard refuses."""
