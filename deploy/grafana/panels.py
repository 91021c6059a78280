"""Grafana panel, query and dashboard builders for build_dashboards.py."""

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
# Calls that failed: 4xx and 5xx, except 499 (the client went away).
ERR = 'status=~"[45]..", status!="499"'
SEL = 'model=~"$model", provider=~"$provider"'
PSEL = 'provider=~"$provider"'

Panel = dict[str, Any]


def m(metric: str, *matchers: str, base: str = SEL) -> str:
    """`metric` with the dashboard's label filters `base` and more `matchers`."""
    labels = ", ".join(part for part in (base, *matchers) if part)
    return f"{metric}{{{labels}}}" if labels else metric


def target(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A") -> Panel:
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "instant": instant,
        "range": not instant,
        "refId": ref,
    }


def _targets(queries: list[tuple[str, str]], instant: bool = False) -> list[Panel]:
    return [
        target(expr, legend, instant=instant, ref=chr(ord("A") + i))
        for i, (expr, legend) in enumerate(queries)
    ]


def _panel(kind: str, title: str, description: str, unit: str, width: int, height: int) -> Panel:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }


def stat(title: str, expr: str, unit: str, description: str = "", width: int = 6) -> Panel:
    """One number (the latest value of `expr`)."""
    panel = _panel("stat", title, description, unit, width, 4)
    panel["targets"] = [target(expr, title, instant=True)]
    panel["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "value",
        "graphMode": "none",
        "textMode": "auto",
    }
    return panel


def series(
    title: str,
    queries: list[tuple[str, str]],
    unit: str,
    description: str = "",
    width: int = 12,
    stack: bool = False,
) -> Panel:
    """A time series graph of one line per query and label set."""
    panel = _panel("timeseries", title, description, unit, width, 8)
    panel["targets"] = _targets(queries)
    panel["fieldConfig"]["defaults"]["custom"] = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10 if stack else 0,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "showPoints": "never",
        "spanNulls": False,
    }
    panel["options"] = {
        "legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel


def bars(title: str, expr: str, legend: str, unit: str, description: str = "") -> Panel:
    """Horizontal bars, one per label set of an instant query (e.g. a topk)."""
    panel = _panel("bargauge", title, description, unit, 12, 8)
    panel["targets"] = [target(expr, legend, instant=True)]
    panel["options"] = {
        "orientation": "horizontal",
        "displayMode": "basic",
        "showUnfilled": True,
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    return panel


def table(title: str, expr: str, unit: str, mappings: list[Panel], description: str = "") -> Panel:
    """A table of the label sets and values of an instant query."""
    panel = _panel("table", title, description, unit, 12, 8)
    panel["targets"] = [{**target(expr, instant=True), "format": "table"}]
    panel["fieldConfig"]["defaults"]["mappings"] = mappings
    panel["transformations"] = [
        {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": {}}}
    ]
    panel["options"] = {"showHeader": True}
    return panel


def quantile(q: float, metric: str, by: str = "", base: str = SEL) -> str:
    """The q-quantile of a histogram, per `by` labels."""
    labels = f"le, {by}" if by else "le"
    buckets = m(f"{metric}_bucket", base=base)
    return f"histogram_quantile({q}, sum by ({labels}) (rate({buckets}[{RATE}])))"


def error_ratio(by: str = "") -> str:
    """Failed calls / all calls, per `by` labels."""
    total = f"sum{f' by ({by}) ' if by else ''}(rate({m('gatewayz_requests_total')}[{RATE}]))"
    failed = total.replace(m("gatewayz_requests_total"), m("gatewayz_requests_total", ERR))
    return f"{failed} / {total}"


def variables() -> list[Panel]:
    """The datasource, provider and model pickers every dashboard has."""

    def pick(name: str, query: str) -> Panel:
        return {
            "name": name,
            "label": name.capitalize(),
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": query, "refId": f"{name}-values"},
            "definition": query,
            "refresh": 2,
            "includeAll": True,
            "allValue": ".*",
            "multi": True,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
        }

    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {"selected": True, "text": "Prometheus", "value": "prometheus"},
            "hide": 0,
        },
        pick("provider", "label_values(gatewayz_requests_total, provider)"),
        pick("model", 'label_values(gatewayz_requests_total{provider=~"$provider"}, model)'),
    ]


def layout(panels: list[Panel]) -> list[Panel]:
    """Number the panels and place them left to right, top to bottom."""
    x = y = row_height = 0
    for number, panel in enumerate(panels, start=1):
        grid = panel["gridPos"]
        if x + grid["w"] > 24:
            x, y, row_height = 0, y + row_height, 0
        grid["x"], grid["y"] = x, y
        x += grid["w"]
        row_height = max(row_height, grid["h"])
        panel["id"] = number
    return panels


def dashboard(slug: str, title: str, description: str, panels: list[Panel]) -> Panel:
    """The Grafana dashboard model `gatewayz-<slug>` holding `panels`."""
    return {
        "uid": f"gatewayz-{slug}",
        "title": title,
        "description": description,
        "tags": ["gatewayz"],
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "id": None,
        "links": [
            {
                "type": "dashboards",
                "title": "Gatewayz",
                "tags": ["gatewayz"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "panels": layout(panels),
        "refresh": "30s",
        "schemaVersion": 39,
        "templating": {"list": variables()},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "version": 1,
    }
