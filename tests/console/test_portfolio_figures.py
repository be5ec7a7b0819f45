"""The two portfolio figures the dashboard puts together from the facilities' stored
assessments: the risk distribution and the forecast (risk-model.md §7's aggregation)."""

from datetime import date

from console.portfolio import distribution_of, forecast_of

AS_OF = date(2026, 12, 7)  # forecast months: Jan, Feb, Mar 2027


def row(score, n, dist=None, forecast=()):
    """A stored facility assessment as the dashboard reads it."""
    return (1, "fac", score, "", n, dist, None if forecast is None else list(forecast))


def test_the_forecast_is_the_rounded_mean_over_facilities_with_equipment():
    rows = [
        row(40, 3, forecast=[{"month": "Jan 2027", "risk_score": 40},
                             {"month": "Feb 2027", "risk_score": 41},
                             {"month": "Mar 2027", "risk_score": 50}]),
        row(41, 2, forecast=[{"month": "Jan 2027", "risk_score": 41},
                             {"month": "Feb 2027", "risk_score": 42},
                             {"month": "Mar 2027", "risk_score": None}]),
        # No counted equipment: no score, left out even if it had a forecast.
        row(None, 0, forecast=[{"month": "Jan 2027", "risk_score": 99}]),
        # Assessed at an older date: its forecast months are not the portfolio's.
        row(70, 1, forecast=[{"month": "Dec 2026", "risk_score": 70}]),
    ]  # fmt: skip
    # Jan: (40 + 41) / 2 = 40.5 → 41 (half up); Feb: 41.5 → 42; Mar: 50 alone.
    assert forecast_of(rows, AS_OF) == [("Jan 2027", 41), ("Feb 2027", 42), ("Mar 2027", 50)]


def test_a_month_no_facility_forecasts_is_a_gap():
    assert forecast_of([row(40, 1, forecast=[{"month": "Jan 2027", "risk_score": 40}])], AS_OF) == [
        ("Jan 2027", 40), ("Feb 2027", None), ("Mar 2027", None),
    ]  # fmt: skip
    assert forecast_of([], AS_OF) == [("Jan 2027", None), ("Feb 2027", None), ("Mar 2027", None)]
    assert forecast_of([row(40, 1, forecast=None), row(40, 1, forecast=["bad"])], AS_OF)[0] == (
        "Jan 2027", None
    )  # fmt: skip


def test_the_distribution_adds_up_the_facilities_ratings():
    rows = [
        row(40, 3, {"low": 1, "medium": 2, "high": 0, "critical": 0}),
        row(80, 4, {"low": 0, "medium": 1, "high": 2, "critical": 1}),
        row(None, 0, None),
    ]
    assert distribution_of(rows) == {"Low": 1, "Medium": 3, "High": 2, "Critical": 1}
