"""The provider table: built-in rows, the operator's rows, and what the environment enables."""

import pytest

from gatewayz.providers.spec import ProviderSpec
from gatewayz.providers.table import Provider, builtin_specs, enabled_providers
from gatewayz.settings import Settings

BUILTIN_NAMES = {
    "openai", "openrouter", "together", "fireworks", "deepinfra", "groq", "cerebras", "xai",
    "nebius", "novita", "featherless", "chutes", "huggingface", "near", "aimo", "aihubmix",
    "vercel", "helicone", "alibaba", "cloudflare", "clarifai", "akash", "morpheus", "onerouter",
    "anannas", "modelz", "alpaca-network", "portkey",
}  # fmt: skip
NATIVE_PROTOCOL = {"anthropic": "anthropic", "google": "gemini", "vertex": "gemini", "fal": "fal"}


def _spec(**fields: object) -> ProviderSpec:
    return ProviderSpec(**{"name": "local", "protocol": "openai", **fields})


def test_builtin_table_has_the_28_openai_compatible_providers_once_each() -> None:
    names = [spec.name for spec in builtin_specs() if spec.protocol == "openai"]
    assert len(names) == len(set(names)) == 28
    assert set(names) == BUILTIN_NAMES


def test_builtin_table_has_one_row_per_native_protocol() -> None:
    native = {s.name: s.protocol for s in builtin_specs() if s.protocol != "openai"}
    assert native == NATIVE_PROTOCOL


def test_builtin_rows_use_https_and_name_a_key_variable() -> None:
    for spec in builtin_specs():
        assert spec.base_url.startswith("https://"), spec.name
        assert spec.api_key_env or spec.credentials_file_env, f"{spec.name} has no key variable"
        assert spec.api_key is None, f"{spec.name} must not ship a key"


def test_nothing_is_enabled_without_keys() -> None:
    assert enabled_providers([], {}) == []


def test_a_builtin_row_is_enabled_only_when_its_key_variable_is_set() -> None:
    enabled = enabled_providers([], {"GROQ_API_KEY": "gsk-1", "UNRELATED": "x"})
    assert [p.name for p in enabled] == ["groq"]
    assert enabled[0].base_url == "https://api.groq.com/openai/v1"
    assert enabled[0].api_key == "gsk-1"


def test_an_empty_key_variable_does_not_enable_a_provider() -> None:
    assert enabled_providers([], {"GROQ_API_KEY": ""}) == []


def test_every_builtin_row_is_enabled_by_its_own_variable() -> None:
    environ = {spec.api_key_env: f"key-{spec.name}" for spec in builtin_specs()}
    environ |= {"CLOUDFLARE_ACCOUNT_ID": "acct", "MODELZ_DEPLOYMENT_KEY": "dep"}
    environ |= {"ALPACA_NETWORK_HOST": "alpaca.example.com/v1"}
    enabled = enabled_providers([], environ)
    # vertex needs a key file: tests/providers/test_google_auth.py
    assert {p.name for p in enabled} == BUILTIN_NAMES | set(NATIVE_PROTOCOL) - {"vertex"}
    assert all(p.api_key == f"key-{p.name}" for p in enabled)


def test_cloudflare_needs_its_account_id_in_the_base_url() -> None:
    assert enabled_providers([], {"CLOUDFLARE_API_TOKEN": "cf"}) == []
    enabled = enabled_providers(
        [], {"CLOUDFLARE_API_TOKEN": "cf", "CLOUDFLARE_ACCOUNT_ID": "abc123"}
    )
    assert [p.name for p in enabled] == ["cloudflare"]
    assert enabled[0].base_url == "https://api.cloudflare.com/client/v4/accounts/abc123/ai/v1"


def test_placeholders_in_operator_rows_are_filled_and_trailing_slash_dropped() -> None:
    spec = _spec(base_url="http://${LLM_HOST}:8080/v1/", auth="none")
    assert enabled_providers([spec], {}) == []
    [provider] = enabled_providers([spec], {"LLM_HOST": "10.0.0.5"})
    assert provider.base_url == "http://10.0.0.5:8080/v1"


def test_operator_row_with_a_builtin_name_replaces_it_in_place() -> None:
    mine = _spec(name="groq", base_url="http://127.0.0.1:9999/v1", api_key="local-key")
    extra = _spec(name="zzz-local", base_url="http://127.0.0.1:9998/v1", auth="none")
    environ = {"OPENAI_API_KEY": "sk", "GROQ_API_KEY": "ignored", "XAI_API_KEY": "xk"}
    enabled = enabled_providers([extra, mine], environ)
    assert [p.name for p in enabled] == ["openai", "groq", "xai", "zzz-local"]
    groq = enabled[1]
    assert groq.base_url == "http://127.0.0.1:9999/v1"
    assert groq.api_key == "local-key"


def test_config_row_naming_a_builtin_inherits_the_fields_it_leaves_out() -> None:
    settings = Settings(
        environ={},
        providers=[
            {
                "name": "openai",
                "api_key": "sk-from-config",
                "models": [{"id": "gpt-x", "input_price_per_mtok": 1, "output_price_per_mtok": 2}],
            }
        ],
    )
    [provider] = enabled_providers(settings.providers, settings.environ)
    assert provider.base_url == "https://api.openai.com/v1"
    assert provider.api_key == "sk-from-config"
    assert "max_completion_tokens" in provider.spec.quirks
    assert [m.id for m in provider.spec.models] == ["gpt-x"]


def test_explicit_api_key_wins_over_the_environment() -> None:
    spec = _spec(base_url="http://h/v1", api_key="from-config", api_key_env="LOCAL_KEY")
    [provider] = enabled_providers([spec], {"LOCAL_KEY": "from-env"})
    assert provider.api_key == "from-config"


def test_keyless_operator_row_needs_auth_none() -> None:
    assert enabled_providers([_spec(base_url="http://h/v1")], {}) == []
    [provider] = enabled_providers([_spec(base_url="http://h/v1", auth="none")], {})
    assert provider.api_key is None


# --- request headers ---------------------------------------------------------------


def _provider(spec: ProviderSpec, api_key: str | None) -> Provider:
    return Provider(spec=spec, base_url=spec.base_url, api_key=api_key)


def test_bearer_auth_header() -> None:
    provider = _provider(_spec(base_url="http://h", auth="bearer"), "sk-1")
    assert provider.request_headers() == {"Authorization": "Bearer sk-1"}


def test_custom_auth_header_carries_the_bare_key() -> None:
    spec = _spec(base_url="http://h", auth="header", auth_header="api-key", headers={"X-A": "1"})
    headers = _provider(spec, "az-1").request_headers()
    assert headers == {"api-key": "az-1", "X-A": "1"}


def test_auth_none_sends_no_key_even_if_one_is_configured() -> None:
    provider = _provider(_spec(base_url="http://h", auth="none"), "unused")
    assert provider.request_headers() == {}


def test_fixed_headers_are_sent_and_not_changed_by_building_headers() -> None:
    environ = {"OPENROUTER_API_KEY": "or-1"}
    [provider] = enabled_providers([], environ)
    first = provider.request_headers()
    assert first["Authorization"] == "Bearer or-1"
    assert first["X-Title"] == "Gatewayz"
    assert "Authorization" not in provider.spec.headers
    first["Authorization"] = "tampered"
    assert provider.request_headers()["Authorization"] == "Bearer or-1"


@pytest.mark.parametrize("auth", ["bearer", "header"])
def test_no_key_no_auth_header(auth: str) -> None:
    extra = {"auth_header": "api-key"} if auth == "header" else {}
    provider = _provider(_spec(base_url="http://h", auth=auth, **extra), None)
    assert provider.request_headers() == {}


# --- own keys ----------------------------------------------------------------------------


def test_public_builtin_rows_take_own_keys_and_rows_addressing_the_operators_do_not() -> None:
    refusing = {spec.name for spec in builtin_specs() if not spec.own_keys}
    assert refusing == {"cloudflare", "modelz", "alpaca-network", "vertex"}


@pytest.mark.parametrize(
    ("row", "own_keys"),
    [
        ({"api_key": "sk-operator"}, True),
        ({"base_url": "https://api.groq.com/openai/v1"}, True),
        ({"base_url": "http://10.0.0.5:8000/v1"}, False),
        ({"headers": {"x-extra": "1"}}, False),
        ({"auth": "header", "auth_header": "x-api-key"}, False),
        ({"base_url": "http://10.0.0.5:8000/v1", "own_keys": True}, True),
        ({"own_keys": False}, False),
    ],
)
def test_a_config_row_naming_a_builtin_keeps_own_keys_while_it_calls_the_same_upstream(
    row: dict[str, object], own_keys: bool
) -> None:
    settings = Settings(environ={}, providers=[{"name": "groq", **row}])
    assert settings.providers[0].own_keys is own_keys
