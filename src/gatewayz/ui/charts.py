"""Bar charts drawn on the server as inline SVG: no script, nothing fetched, readable by a
screen reader (each bar has a title, and every chart has its table beside it)."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT, PAD = 640, 180, 24


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    bars: tuple[Bar, ...]
    top: str
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> int:
        return HEIGHT - PAD


def bar_chart(title: str, points: Sequence[tuple[str, Decimal | int | float | None]]) -> Chart:
    """One bar per (label, value); bars scale to the largest value (missing values are 0)."""
    values = [Decimal(str(v)) if v is not None else Decimal(0) for _, v in points]
    top = max(values, default=Decimal(0))
    slot = (WIDTH - 2 * PAD) / max(len(points), 1)
    usable = HEIGHT - 2 * PAD
    bars = []
    for index, ((label, _), value) in enumerate(zip(points, values, strict=True)):
        height = float(value / top) * usable if top > 0 else 0.0
        bars.append(
            Bar(
                x=PAD + index * slot + slot * 0.1,
                y=HEIGHT - PAD - height,
                width=max(slot * 0.8, 1.0),
                height=height,
                label=label,
                value=_plain(value),
            )
        )
    return Chart(title, tuple(bars), _plain(top))


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f") if value else "0"
    return text
