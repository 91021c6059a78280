import random

import pytest

from gatewayz.errors import InvalidRequest, ModelNotFound
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.spec import ModelSpec, ProviderSpec
from gatewayz.providers.table import Provider
from gatewayz.routing.health import HealthBoard
from gatewayz.routing.options import parse_options, without_routing_fields
from gatewayz.routing.planner import Planner
from gatewayz.routing.settings import RoutingSettings
from tests.routing.helpers import catalog, provider

CATALOG = catalog(
    provider("cheap", ("llama", "0.1", "0.1"), ("mistral", "0.1", "0.1")),
    provider("fast", ("llama", "1", "1")),
    provider("mid", ("llama", "0.5", "0.5")),
)


def plan(
    body: dict, settings: RoutingSettings | None = None, board: HealthBoard | None = None
) -> list[str]:
    planner = Planner(
        CATALOG, board or HealthBoard(5, 30), settings or RoutingSettings(), random.Random(1)
    )
    return [r.public_id for r in planner.plan(parse_options({"model": "llama", **body}))]


def test_priority_keeps_table_order() -> None:
    assert plan({}) == ["cheap/llama", "fast/llama", "mid/llama"]


def test_provider_prefix_pins_one_route() -> None:
    assert plan({"model": "fast/llama"}) == ["fast/llama"]


def test_lowest_price_per_request_and_per_model_config() -> None:
    assert plan({"provider": {"sort": "price"}})[0] == "cheap/llama"
    settings = RoutingSettings(models={"llama": {"strategy": "lowest_price"}})
    assert plan({}, settings) == ["cheap/llama", "mid/llama", "fast/llama"]


def test_lowest_latency_uses_measured_latency() -> None:
    board = HealthBoard(5, 30)
    board.record("fast", "llama", True, 0.01, None)
    board.record("mid", "llama", True, 0.20, None)
    board.record("cheap", "llama", True, 0.50, None)
    assert plan({"provider": {"sort": "latency"}}, board=board) == [
        "fast/llama",
        "mid/llama",
        "cheap/llama",
    ]


def test_weighted_prefers_heavier_providers() -> None:
    settings = RoutingSettings(strategy="weighted", weights={"mid": 50, "cheap": 1, "fast": 1})
    planner = Planner(CATALOG, HealthBoard(5, 30), settings, random.Random(7))
    firsts = [planner.plan(parse_options({"model": "llama"}))[0].provider.name for _ in range(200)]
    assert firsts.count("mid") > 150


def test_order_only_ignore_and_no_fallbacks() -> None:
    assert plan({"provider": {"order": ["mid", "fast"]}}) == [
        "mid/llama",
        "fast/llama",
        "cheap/llama",
    ]
    assert plan({"provider": {"only": ["fast", "mid"]}}) == ["fast/llama", "mid/llama"]
    assert plan({"provider": {"ignore": ["cheap"]}}) == ["fast/llama", "mid/llama"]
    assert plan({"provider": {"allow_fallbacks": False}}) == ["cheap/llama"]


def test_fallback_models_follow_the_primary() -> None:
    assert plan({"model": "fast/llama", "models": ["mistral"]}) == ["fast/llama", "cheap/mistral"]


def test_config_candidates_define_a_model_alias() -> None:
    settings = RoutingSettings(models={"house": {"candidates": ["mid/llama", "cheap/mistral"]}})
    assert plan({"model": "house"}, settings) == ["mid/llama", "cheap/mistral"]


def test_unknown_model_and_everything_filtered_out_are_not_found() -> None:
    with pytest.raises(ModelNotFound):
        plan({"model": "nope"})
    with pytest.raises(ModelNotFound):
        plan({"provider": {"only": ["elsewhere"]}})


@pytest.mark.parametrize(
    ("provider_options", "param"),
    [
        ("fast", "provider"),
        ({"order": "fast"}, "provider.order"),
        ({"allow_fallbacks": "no"}, "provider.allow_fallbacks"),
        ({"sort": "vibes"}, "provider.sort"),
        ({"colour": "red"}, "provider.colour"),
    ],
)
def test_bad_routing_options_name_the_field(provider_options: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_options({"model": "llama", "provider": provider_options})
    assert caught.value.param == param


def test_routing_fields_are_not_sent_upstream() -> None:
    body = {"model": "llama", "models": ["x"], "provider": {"sort": "price"}, "top_k": 3}
    assert without_routing_fields(body) == {"model": "llama", "top_k": 3}


def test_canonical_id_gathers_one_model_served_under_several_ids() -> None:
    def serving(name: str, model_id: str) -> Provider:
        model = ModelSpec(
            id=model_id,
            canonical_id="llama-3.1-8b",
            input_price_per_mtok=1,
            output_price_per_mtok=1,
        )
        spec = ProviderSpec(
            name=name, protocol="openai", base_url="http://x.invalid", auth="none", models=(model,)
        )
        return Provider(spec, spec.base_url, None)

    catalog = Catalog(
        [serving("together", "meta-llama/Llama-3.1-8B"), serving("groq", "llama-3.1-8b-instant")]
    )
    planner = Planner(catalog, HealthBoard(5, 30), RoutingSettings())
    routes = planner.plan(parse_options({"model": "llama-3.1-8b"}))
    assert [r.public_id for r in routes] == [
        "together/meta-llama/Llama-3.1-8B",
        "groq/llama-3.1-8b-instant",
    ]
