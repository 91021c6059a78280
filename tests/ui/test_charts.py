"""Server-drawn bar charts: bars scale to the largest value, exactly and without floats in
the labels."""

from decimal import Decimal

from gatewayz.ui.charts import HEIGHT, PAD, bar_chart
from gatewayz.ui.render import credits


def test_bars_scale_to_the_largest_value() -> None:
    chart = bar_chart("Cost", [("a", Decimal("0.000046")), ("b", Decimal("0.000023")), ("c", None)])
    tallest, half, empty = chart.bars
    assert tallest.height == HEIGHT - 2 * PAD
    assert half.height == tallest.height / 2
    assert empty.height == 0 and empty.value == "0"
    assert chart.top == "0.000046" and tallest.value == "0.000046"


def test_an_empty_period_draws_no_bar_above_zero() -> None:
    chart = bar_chart("Requests", [("a", 0), ("b", 0)])
    assert [bar.height for bar in chart.bars] == [0.0, 0.0]


def test_credit_amounts_keep_every_digit() -> None:
    assert credits("0.000046") == "$0.000046"
    assert credits("10") == "$10.00"
    assert credits("-3.5") == "-$3.50"
