import pytest

from gaodi.engines.sme import SizeClass, classify, is_sme


@pytest.mark.parametrize(
    ("industry", "employees", "revenue", "assets", "expected"),
    [
        # Software and IT services: SME below 300 staff or 100 million yuan revenue.
        ("software_it", 500, 20000, 0, SizeClass.LARGE),
        ("software_it", 500, 9000, 0, SizeClass.MEDIUM),  # revenue alone makes it an SME
        ("software_it", 150, 2000, 0, SizeClass.MEDIUM),
        ("software_it", 150, 800, 0, SizeClass.SMALL),
        ("software_it", 12, 60, 0, SizeClass.SMALL),
        ("software_it", 9, 5000, 0, SizeClass.MICRO),
        ("software_it", 40, 49, 0, SizeClass.MICRO),
        # Industry: 1000 staff / 400 million yuan outer bound.
        ("industry", 1200, 50000, 0, SizeClass.LARGE),
        ("industry", 300, 2000, 0, SizeClass.MEDIUM),
        ("industry", 299, 2000, 0, SizeClass.SMALL),
        ("industry", 19, 2000, 0, SizeClass.MICRO),
        # Leasing and business services are measured by total assets, not revenue.
        ("leasing_business", 200, 999999, 9000, SizeClass.MEDIUM),
        ("leasing_business", 400, 0, 130000, SizeClass.LARGE),
        # Construction counts money only.
        ("construction", 5000, 7000, 0, SizeClass.MEDIUM),
        ("other", 99, 10**9, 0, SizeClass.SMALL),
        ("other", 300, 0, 0, SizeClass.LARGE),
    ],
)
def test_classify_follows_published_thresholds(industry, employees, revenue, assets, expected):
    assert classify(industry, employees, revenue, assets) is expected


def test_is_sme():
    assert is_sme(SizeClass.MICRO) and not is_sme(SizeClass.LARGE)


def test_bad_input_is_refused_with_reason():
    with pytest.raises(ValueError, match="unknown industry"):
        classify("mining-on-mars", 1, 1)
    with pytest.raises(ValueError, match="negative"):
        classify("software_it", -1, 1)
