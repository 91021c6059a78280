"""The catalog's lists: operator models win, unpriced models are listed but not routed,
the bundled list stands in until a provider's own list is fetched."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gatewayz.providers.bundled import Bundled, load_bundled
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.listing import ListedModel
from gatewayz.providers.spec import ProviderSpec
from gatewayz.providers.table import Provider

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _provider(name: str, *models: dict[str, Any], models_path: str | None = "/models") -> Provider:
    spec = ProviderSpec(
        name=name,
        protocol="openai",
        base_url=f"http://{name}.invalid/v1",
        auth="none",
        models=list(models),
        models_path=models_path,
    )
    return Provider(spec=spec, base_url=spec.base_url, api_key=None)


def _priced(model_id: str, price_in: str = "1", price_out: str = "2", **extra: Any) -> ListedModel:
    return ListedModel(
        id=model_id,
        input_price_per_mtok=Decimal(price_in),
        output_price_per_mtok=Decimal(price_out),
        **extra,
    )


def test_operator_models_win_over_fetched_data_for_the_same_id() -> None:
    declared = {"id": "m", "input_price_per_mtok": "7", "output_price_per_mtok": "9"}
    catalog = Catalog([_provider("p", declared)])
    catalog.replace("p", [_priced("m", "1", "1", context_length=4096, name="Listed M")], NOW)
    (route,) = catalog.candidates("p/m")
    assert (route.model.input_price_per_mtok, route.model.output_price_per_mtok) == (7, 9)
    (entry,) = catalog.lookup("p/m")
    assert entry.declared and entry.model.context_length == 4096, "unset fields come from the list"
    assert entry.model.name == "Listed M"
    assert [e.public_id for e in catalog.entries()] == ["p/m"], "listed once"


def test_unpriced_models_are_listed_but_never_routed() -> None:
    catalog = Catalog([_provider("p")])
    catalog.replace("p", [ListedModel(id="free-form"), _priced("priced")], NOW)
    assert {e.public_id: e.callable for e in catalog.entries()} == {
        "p/free-form": False,
        "p/priced": True,
    }
    assert catalog.candidates("free-form") == []
    assert catalog.candidates("p/free-form") == []
    assert [r.public_id for r in catalog.candidates("priced")] == ["p/priced"]
    assert [r.public_id for r in catalog.routes()] == ["p/priced"]
    image = ListedModel(id="img", type="images", input_price_per_mtok=Decimal(1))
    catalog.replace("p", [image], NOW)
    assert catalog.candidates("img") == [], "an image model needs a per-image price"


def test_a_llama_served_by_five_providers_has_one_canonical_id() -> None:
    ids = {
        "together": "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
        "fireworks": "accounts/fireworks/models/llama-v3p1-8b-instruct",
        "groq": "llama-3.1-8b-instant",
        "deepinfra": "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "cerebras": "llama3.1-8b",
    }
    catalog = Catalog([_provider(name) for name in ids], load_bundled())
    for name, model_id in ids.items():
        catalog.replace(name, [_priced(model_id), _priced(f"{model_id}-other")], NOW)
    routes = catalog.candidates("llama-3.1-8b-instruct")
    assert [(r.provider.name, r.model.id) for r in routes] == list(ids.items())
    assert {r.model.canonical_id for r in routes} == {"llama-3.1-8b-instruct"}
    assert catalog.candidates("Meta-Llama-3.1-8B-Instruct") == routes, "normalised on a miss"
    assert [r.public_id for r in catalog.candidates("llama-3.1-8b-instant")] == [
        "groq/llama-3.1-8b-instant"
    ]
    assert [r.public_id for r in catalog.candidates("groq/llama-3.1-8b-instant")] == [
        "groq/llama-3.1-8b-instant"
    ]
    assert catalog.candidates("unknown/llama-3.1-8b-instruct") == []


def test_one_route_per_provider_preferring_the_exact_id() -> None:
    catalog = Catalog([_provider("openai"), _provider("openrouter")])
    catalog.replace(
        "openai",
        [_priced("gpt-4o-2024-08-06", "2.5", "10"), _priced("gpt-4o", "2.5", "10")],
        NOW,
    )
    catalog.replace("openrouter", [_priced("openai/gpt-4o", "2.5", "10")], NOW)
    assert [r.public_id for r in catalog.candidates("gpt-4o")] == [
        "openai/gpt-4o",
        "openrouter/openai/gpt-4o",
    ]
    assert [e.public_id for e in catalog.lookup("gpt-4o")] == [
        "openai/gpt-4o-2024-08-06",
        "openai/gpt-4o",
        "openrouter/openai/gpt-4o",
    ]


def test_bundled_list_until_fetched_then_bundled_prices_fill_exact_ids_only() -> None:
    bundled = Bundled(
        models={
            "p": (
                _priced("m-1", "3", "4", context_length=1000),
                _priced("gpt-4o", "2.50", "10"),
                _priced("retired", "1", "1"),
            )
        }
    )
    catalog = Catalog([_provider("p")], bundled)
    assert [r.public_id for r in catalog.routes()] == ["p/m-1", "p/gpt-4o", "p/retired"]
    assert catalog.listing("p").fetched_at is None
    catalog.replace(
        "p",
        [ListedModel(id="m-1"), ListedModel(id="gpt-4o-2024-05-13"), _priced("new", "1", "1")],
        NOW,
    )
    entries = {e.model.id: e for e in catalog.entries()}
    assert set(entries) == {"m-1", "gpt-4o-2024-05-13", "new"}, "the fetched list decides"
    assert entries["m-1"].callable and entries["m-1"].model.input_price_per_mtok == 3
    assert entries["m-1"].model.context_length == 1000
    assert not entries["gpt-4o-2024-05-13"].callable, "no price borrowed from another snapshot"


def test_replace_swaps_a_provider_list_and_failures_keep_it() -> None:
    catalog = Catalog([_provider("a"), _provider("b")])
    catalog.replace("a", [_priced("x")], NOW)
    catalog.replace("b", [_priced("x")], NOW)
    before = catalog.candidates("x")
    catalog.replace("a", [_priced("y")], NOW)
    assert [r.public_id for r in before] == ["a/x", "b/x"], "a result already handed out stays"
    assert [r.public_id for r in catalog.candidates("x")] == ["b/x"]
    catalog.mark_failed("a", "HTTP 503", NOW)
    assert catalog.listing("a").error == "HTTP 503"
    assert [r.public_id for r in catalog.candidates("y")] == ["a/y"]
    catalog.replace("a", [_priced("y")], NOW)
    assert catalog.listing("a").error is None
    catalog.replace("unknown", [_priced("z")], NOW)
    assert catalog.candidates("z") == []


def test_the_bundled_catalog_serves_the_main_providers_before_any_fetch() -> None:
    names = ["openai", "anthropic", "google", "groq", "together", "fireworks"]
    names += ["deepinfra", "xai", "cerebras", "openrouter"]
    catalog = Catalog([_provider(name) for name in names], load_bundled())
    served = {r.provider.name for r in catalog.routes()}
    assert served == set(names)
    llama = {r.provider.name for r in catalog.candidates("llama-3.1-8b-instruct")}
    assert llama == {"groq", "together", "fireworks", "deepinfra", "cerebras"}
    (haiku,) = catalog.candidates("claude-haiku-4.5")
    assert haiku.model.id == "claude-haiku-4-5-20251001"
    assert haiku.model.input_price_per_mtok == Decimal("1")
    for route in catalog.routes():
        model = route.model
        if model.type == "images":
            assert model.image_price is not None, route.public_id
        else:
            assert None not in (model.input_price_per_mtok, model.output_price_per_mtok)


def test_bundled_cache_prices_follow_each_providers_rule() -> None:
    """Reads never cost more than input; Anthropic's writes cost 1.25x input for five minutes
    and twice input for an hour; a route of a bundled model carries them to billing."""
    bundled = load_bundled()
    cached = [
        m for models in bundled.models.values() for m in models if m.cache_read_price_per_mtok
    ]
    assert len(cached) >= 25
    for model in cached:
        assert model.cache_read_price_per_mtok <= model.input_price_per_mtok, model.id
    for model in bundled.for_provider("anthropic"):
        price = model.input_price_per_mtok
        assert model.cache_read_price_per_mtok == price / 10, model.id
        assert model.cache_write_price_per_mtok == price * Decimal("1.25"), model.id
        assert model.cache_write_1h_price_per_mtok == price * 2, model.id
    catalog = Catalog([_provider("anthropic")], bundled)
    (route,) = catalog.candidates("anthropic/claude-haiku-4-5-20251001")
    assert route.model.cache_write_1h_price_per_mtok == Decimal(2)
