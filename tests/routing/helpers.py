"""Routes built from plain data, for routing tests."""

from gatewayz.providers.catalog import Catalog, Route
from gatewayz.providers.spec import ModelSpec, ProviderSpec
from gatewayz.providers.table import Provider


def provider(name: str, *models: tuple[str, str, str]) -> Provider:
    spec = ProviderSpec(
        name=name,
        protocol="openai",
        base_url=f"http://{name}.invalid/v1",
        auth="none",
        models=tuple(
            ModelSpec(id=m, input_price_per_mtok=i, output_price_per_mtok=o) for m, i, o in models
        ),
    )
    return Provider(spec=spec, base_url=spec.base_url, api_key=None)


def catalog(*providers: Provider) -> Catalog:
    return Catalog(list(providers))


def route(catalog: Catalog, public_id: str) -> Route:
    (found,) = catalog.candidates(public_id)
    return found
