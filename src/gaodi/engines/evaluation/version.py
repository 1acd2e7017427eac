"""The engine's name and version, recorded in every result envelope."""

ENGINE_NAME = "gaodi.engines.evaluation"
ENGINE_VERSION = "1.0.0"
