"""Data quality engine: profiles, sensitive-data scanning, grading suggestions, labeling agreement.

Pure Python on Polars, Arrow and NumPy; no Django. Entry points:

- `profile_file` / `profile_frame` → `TableProfile` (six GB/T 36344 dimensions and a score),
  configured by `load_config` (TOML rules) or a `ProfileConfig`;
- `scan_file` / `scan_frame` → `ScanResult` (identity numbers, phones, credit codes, cards, ...);
- `suggest_grading` → `GradingSuggestion` (security level and open type, with reasons);
- `agreement`: `cohen_kappa`, `fleiss_kappa`, `krippendorff_alpha`;
- `open_table` → batches of any supported file, in bounded memory.

Every deliberate failure is a `DataQualityError` with a one-line message.
"""

from gaodi.engines.dataquality.agreement import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    ratings_to_counts,
)
from gaodi.engines.dataquality.config import (
    DIMENSIONS,
    ColumnSpec,
    ProfileConfig,
    RuleSpec,
    load_config,
    parse_config,
)
from gaodi.engines.dataquality.errors import (
    BadRowError,
    DataQualityError,
    EncodingError,
    FileTooLargeError,
    RuleError,
    UnsupportedFormatError,
    ZipBombError,
)
from gaodi.engines.dataquality.grading import GradingSuggestion, OpenType, SecurityLevel, suggest_grading
from gaodi.engines.dataquality.profile import TableProfile, profile_batches, profile_file, profile_frame
from gaodi.engines.dataquality.readers import ReadOptions, ReadStats, open_table
from gaodi.engines.dataquality.sensitive import Entity, ScanResult, scan_batches, scan_file, scan_frame

__all__ = [
    "DIMENSIONS",
    "BadRowError",
    "ColumnSpec",
    "DataQualityError",
    "EncodingError",
    "Entity",
    "FileTooLargeError",
    "GradingSuggestion",
    "OpenType",
    "ProfileConfig",
    "ReadOptions",
    "ReadStats",
    "RuleError",
    "RuleSpec",
    "ScanResult",
    "SecurityLevel",
    "TableProfile",
    "UnsupportedFormatError",
    "ZipBombError",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "load_config",
    "open_table",
    "parse_config",
    "profile_batches",
    "profile_file",
    "profile_frame",
    "ratings_to_counts",
    "scan_batches",
    "scan_file",
    "scan_frame",
    "suggest_grading",
]
