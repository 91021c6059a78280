"""The schema of a provider row: closed, with errors that name the problem."""

import pytest
from pydantic import ValidationError

from gatewayz.providers.spec import ModelSpec, ProviderSpec

BASE = {"name": "local", "protocol": "openai", "base_url": "http://127.0.0.1:8000/v1"}
MODEL = {"id": "m", "input_price_per_mtok": "1", "output_price_per_mtok": "2"}


def _error(**fields: object) -> str:
    with pytest.raises(ValidationError) as caught:
        ProviderSpec(**{**BASE, **fields})
    return str(caught.value)


def test_a_minimal_row_is_valid() -> None:
    spec = ProviderSpec(**BASE, models=[MODEL])
    assert spec.auth == "bearer"
    assert spec.models == (ModelSpec(**MODEL),)


def test_unknown_fields_are_rejected() -> None:
    assert "colour" in _error(colour="red")


def test_unknown_model_fields_are_rejected() -> None:
    assert "price" in _error(models=[{**MODEL, "price": 3}])


def test_auth_header_mode_needs_the_header_name() -> None:
    assert "auth_header" in _error(auth="header")


def test_auth_header_without_header_mode_is_rejected() -> None:
    assert "auth_header" in _error(auth_header="api-key")


def test_duplicate_model_ids_are_rejected() -> None:
    assert "'m' is declared twice" in _error(models=[MODEL, MODEL])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("protocol", "grpc"),
        ("name", "Has Spaces"),
        ("base_url", "api.example.com/v1"),
        ("auth", "basic"),
        ("quirks", ["no_such_quirk"]),
    ],
)
def test_invalid_values_are_rejected(field: str, value: object) -> None:
    assert field in _error(**{field: value})


def test_negative_prices_are_rejected() -> None:
    with pytest.raises(ValidationError, match="input_price_per_mtok"):
        ModelSpec(id="m", input_price_per_mtok="-1", output_price_per_mtok="0")


def test_passthrough_fields_are_names_and_never_background() -> None:
    spec = ProviderSpec(**BASE, passthrough_fields=["store", "tools.web_search"])
    assert spec.passthrough_fields == frozenset({"store", "tools.web_search"})
    assert ProviderSpec(**BASE).passthrough_fields == frozenset()
    with pytest.raises(ValidationError, match="background"):
        ProviderSpec(**BASE, passthrough_fields=["background"])
    with pytest.raises(ValidationError, match="empty"):
        ProviderSpec(**BASE, passthrough_fields=[" "])


def test_operator_rows_take_no_own_keys_unless_they_say_so() -> None:
    assert ProviderSpec(**BASE).own_keys is False
    assert ProviderSpec(**BASE, own_keys=True).own_keys is True


@pytest.mark.parametrize("auth", ["none", "google"])
def test_own_keys_need_a_key_sent_in_a_header(auth: str) -> None:
    fields = {"auth": auth, "own_keys": True}
    if auth == "google":
        fields |= {"protocol": "gemini", "credentials_file": "/sa.json"}
    assert "own_keys: true needs a key sent in a header" in _error(**fields)
