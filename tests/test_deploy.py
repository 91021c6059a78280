"""The deployment files: compose, Prometheus, Grafana provisioning and dashboards, Dockerfile.

Docker cannot run here; these tests check what can be checked without it, above all that
every metric and label the dashboards query is one the gateway exports.
"""

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gatewayz.settings import Settings, read_config_file
from gatewayz.telemetry.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
SLUGS = ("overview", "models", "providers", "cost", "tokens")
_METRIC = re.compile(r"\b(gatewayz_[a-z0-9_]+)")
_SELECTOR = re.compile(r"\b(gatewayz_[a-z0-9_]+)\{([^}]*)\}")
_MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS.glob("*.json"))
    }


def _queries(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard: panel targets and variable queries."""
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    exprs += [v["definition"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs


def _exported() -> dict[str, set[str]]:
    """Each series name the gateway's registry exports, with its label names.

    Label names come from the client's collectors (`_labelnames`), so that this does not
    depend on how the gateway feeds its metrics.
    """
    registry = Metrics().registry
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
    }
    labels = {
        name: set(getattr(collector, "_labelnames", ()))
        for collector, names in registry._collector_to_names.items()
        for name in names
    }
    exported: dict[str, set[str]] = {}
    for family in registry.collect():
        for suffix in suffixes.get(family.type, ("",)):
            exported[family.name + suffix] = labels.get(family.name + suffix, set())
    return exported


def test_compose_runs_the_gateway_with_postgres_redis_prometheus_and_grafana() -> None:
    compose = _yaml(DEPLOY / "compose.yaml")
    services = compose["services"]
    assert set(services) == {"gatewayz", "postgres", "redis", "prometheus", "grafana"}
    gateway = services["gatewayz"]
    assert (DEPLOY / gateway["build"]["context"] / gateway["build"]["dockerfile"]).is_file()
    env = gateway["environment"]
    assert env["GATEWAYZ_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["GATEWAYZ_DATABASE_URL"]
    assert env["GATEWAYZ_REDIS_URL"] == "redis://redis:6379/0"
    assert env["GATEWAYZ_SECRET"].startswith("${GATEWAYZ_SECRET:?")  # required, never defaulted
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{source} is mounted but missing"
            else:
                assert source in compose["volumes"], f"volume {source} is not declared"


def test_the_mounted_gateway_config_is_valid() -> None:
    settings = Settings(**read_config_file(DEPLOY / "gatewayz.yaml"), environ={})
    assert settings.providers == []


def test_prometheus_scrapes_the_gateway_metrics() -> None:
    config = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "gatewayz"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert job["static_configs"][0]["targets"] == ["gatewayz:8000"]


def test_grafana_is_provisioned_with_prometheus_and_the_dashboards() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = _yaml(provisioning / "datasources" / "prometheus.yaml")["datasources"]
    assert (source["type"], source["uid"], source["url"]) == (
        "prometheus",
        "prometheus",
        "http://prometheus:9090",
    )
    (provider,) = _yaml(provisioning / "dashboards" / "gatewayz.yaml")["providers"]
    grafana = _yaml(DEPLOY / "compose.yaml")["services"]["grafana"]
    mounts = dict(m.split(":")[:2] for m in grafana["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


def test_the_five_dashboards_are_grafana_dashboards() -> None:
    boards = _dashboards()
    assert set(boards) == set(SLUGS)
    keys = {"uid", "title", "panels", "schemaVersion", "templating", "time", "tags", "version"}
    assert len({board["uid"] for board in boards.values()}) == len(SLUGS)
    for slug, board in boards.items():
        assert keys <= set(board), slug
        assert board["panels"], slug
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), slug
        variables = {v["name"] for v in board["templating"]["list"]}
        assert {"datasource", "provider", "model"} <= variables
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, (slug, panel["title"])
            assert panel["targets"], (slug, panel["title"])
            for t in panel["targets"]:
                assert t["refId"] and t["expr"], (slug, panel["title"])
                assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
                assert t["expr"].count("{") == t["expr"].count("}"), t["expr"]


def test_every_metric_the_dashboards_query_is_exported() -> None:
    exported = _exported()
    for slug, board in _dashboards().items():
        for expr in _queries(board):
            used = _METRIC.findall(expr)
            assert used, expr
            for name in used:
                assert name in exported, f"{slug}: {name} is not in telemetry/metrics.py"


def test_every_label_the_dashboards_query_is_exported() -> None:
    exported = _exported()
    for slug, board in _dashboards().items():
        for expr in _queries(board):
            for name, matchers in _SELECTOR.findall(expr):
                for label in _MATCHER.findall(matchers):
                    assert label in exported[name], f"{slug}: {name} has no label {label}"
            labels = set().union(*(exported[name] for name in _METRIC.findall(expr)))
            for group in _BY.findall(expr):
                for label in (part.strip() for part in group.split(",")):
                    assert label in labels | {"le"}, f"{slug}: no metric in {expr} has {label}"
            for name, label in re.findall(r"label_values\((gatewayz_\w+)[^,]*,\s*(\w+)\)", expr):
                assert label in exported[name], f"{slug}: {name} has no label {label}"


@pytest.mark.parametrize("slug", SLUGS)
def test_dashboards_are_built_from_build_dashboards_py(
    slug: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(DEPLOY / "grafana"))
    monkeypatch.delitem(sys.modules, "panels", raising=False)
    builder = importlib.import_module("build_dashboards")
    stored = (DASHBOARDS / f"{slug}.json").read_text(encoding="utf-8")
    assert stored == builder.render(slug), (
        f"{slug}.json differs: run `python deploy/grafana/build_dashboards.py`"
    )


def test_the_image_runs_the_gateway_as_a_non_root_user_with_a_healthcheck() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert stages and all(image == "python:3.11-slim" for image in stages)
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*/health", dockerfile, re.MULTILINE | re.DOTALL)
    assert 'ENTRYPOINT ["gatewayz"]' in dockerfile
    assert 'CMD ["serve", "--host", "0.0.0.0"]' in dockerfile
    assert re.search(r"pip install .*\.$", dockerfile, re.MULTILINE)


def test_the_deployment_is_documented_and_linked() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for topic in ("compose.yaml", "GATEWAYZ_SECRET", "Grafana", "Prometheus", "/metrics"):
        assert topic in guide, topic
    assert "docs/deployment.md" in (ROOT / "README.md").read_text(encoding="utf-8")
