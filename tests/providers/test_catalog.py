"""The catalog: which enabled provider serves a model."""

from gatewayz.providers.catalog import Catalog
from gatewayz.providers.spec import ProviderSpec
from gatewayz.providers.table import Provider


def _provider(name: str, *model_ids: str) -> Provider:
    spec = ProviderSpec(
        name=name,
        protocol="openai",
        base_url=f"http://{name}.test/v1",
        auth="none",
        models=[
            {"id": m, "input_price_per_mtok": "1", "output_price_per_mtok": "2"} for m in model_ids
        ],
    )
    return Provider(spec=spec, base_url=spec.base_url, api_key=None)


CATALOG = Catalog(
    [
        _provider("alpha", "llama-3", "shared"),
        _provider("beta", "shared", "meta/llama-70b"),
    ]
)


def test_provider_slash_model_picks_that_provider() -> None:
    [route] = CATALOG.candidates("beta/shared")
    assert (route.provider.name, route.model.id) == ("beta", "shared")


def test_plain_id_lists_every_provider_serving_it_in_table_order() -> None:
    routes = CATALOG.candidates("shared")
    assert [r.public_id for r in routes] == ["alpha/shared", "beta/shared"]


def test_model_ids_containing_a_slash() -> None:
    assert [r.public_id for r in CATALOG.candidates("meta/llama-70b")] == ["beta/meta/llama-70b"]
    assert [r.public_id for r in CATALOG.candidates("beta/meta/llama-70b")] == [
        "beta/meta/llama-70b"
    ]


def test_unknown_models_have_no_candidates() -> None:
    for model in ("nope", "alpha/nope", "gamma/llama-3", "alpha/", ""):
        assert CATALOG.candidates(model) == [], model


def test_routes_lists_every_public_id() -> None:
    assert [r.public_id for r in CATALOG.routes()] == [
        "alpha/llama-3",
        "alpha/shared",
        "beta/shared",
        "beta/meta/llama-70b",
    ]


def test_canonical_id_gathers_one_model_across_providers() -> None:
    def provider(name: str, model_id: str, canonical_id: str | None) -> Provider:
        spec = ProviderSpec(
            name=name,
            protocol="openai",
            base_url=f"http://{name}.test/v1",
            auth="none",
            models=[
                {
                    "id": model_id,
                    "canonical_id": canonical_id,
                    "input_price_per_mtok": "1",
                    "output_price_per_mtok": "2",
                }
            ],
        )
        return Provider(spec=spec, base_url=spec.base_url, api_key=None)

    catalog = Catalog(
        [
            provider("groq", "llama-3.1-8b-instant", "llama-3.1-8b"),
            provider("together", "meta-llama/Meta-Llama-3.1-8B", "llama-3.1-8b"),
            provider("local", "llama-3.1-8b", None),
        ]
    )
    assert [r.public_id for r in catalog.candidates("llama-3.1-8b")] == [
        "groq/llama-3.1-8b-instant",
        "together/meta-llama/Meta-Llama-3.1-8B",
        "local/llama-3.1-8b",
    ]
    assert [r.public_id for r in catalog.candidates("llama-3.1-8b-instant")] == [
        "groq/llama-3.1-8b-instant"
    ]
    assert [r.public_id for r in catalog.candidates("together/meta-llama/Meta-Llama-3.1-8B")] == [
        "together/meta-llama/Meta-Llama-3.1-8B"
    ]
