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


class EndpointTimeoutError(EndpointError):
    """The endpoint did not answer in time, after every retry."""


class EndpointUnreachableError(EndpointError):
    """The endpoint's host cannot be resolved or connected to, after every retry."""


class EndpointGarbageError(EndpointError):
    """The endpoint answered something that is not the expected JSON of predictions."""


class UnsafeEndpointError(EndpointError):
    """The endpoint resolves to an address the SSRF guard refuses."""
