"""`auth: google` rows: enabled by a service-account key file, refused when it is unusable."""

from pathlib import Path

import aiohttp
import orjson
import pytest
from pydantic import ValidationError

from gatewayz.providers.google_credentials import CredentialsError
from gatewayz.providers.google_tokens import GoogleTokens
from gatewayz.providers.spec import ProviderSpec
from gatewayz.providers.table import enabled_providers
from gatewayz.settings import ConfigError, load_settings
from tests.fakes.google_oauth import EMAIL, FakeGoogleOAuth

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
VERTEX_ENV = {"VERTEX_PROJECT": "proj-1", "VERTEX_LOCATION": "europe-west4"}


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fake = FakeGoogleOAuth()
    fake.token_uri = GOOGLE_TOKEN_URI
    return fake.key_file(tmp_path_factory.mktemp("google"))


def _vertex(environ: dict[str, str]) -> list[str]:
    return [p.name for p in enabled_providers([], environ) if p.name == "vertex"]


def test_builtin_vertex_needs_the_key_file_and_both_placeholders(key_file: Path) -> None:
    creds = {"GOOGLE_APPLICATION_CREDENTIALS": str(key_file)}
    assert _vertex(VERTEX_ENV) == []
    assert _vertex(creds | {"VERTEX_PROJECT": "proj-1"}) == []
    assert _vertex(creds | VERTEX_ENV | {"GOOGLE_APPLICATION_CREDENTIALS": ""}) == []
    [provider] = [p for p in enabled_providers([], creds | VERTEX_ENV) if p.name == "vertex"]
    assert provider.base_url == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/proj-1"
        "/locations/europe-west4/publishers/google"
    )
    assert provider.api_key is None and provider.request_headers() == {}
    assert provider.service_account is not None
    assert provider.service_account.email == EMAIL
    assert provider.service_account.token_uri == GOOGLE_TOKEN_URI


def test_an_operator_row_may_name_its_key_file(key_file: Path) -> None:
    spec = ProviderSpec(
        name="my-vertex",
        protocol="gemini",
        base_url="https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/"
        "us-central1/publishers/google",
        auth="google",
        credentials_file=str(key_file),
    )
    [provider] = enabled_providers([spec], {})
    assert provider.service_account is not None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read"),
        (b"{not json", "is not JSON"),
        (orjson.dumps({"type": "authorized_user"}), "is not a service-account key file"),
        (orjson.dumps({"type": "service_account"}), "missing fields"),
    ],
)
def test_an_unusable_key_file_stops_start_up(
    tmp_path: Path, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "key.json"
    if content is not None:
        path.write_bytes(content)
    environ = {"GOOGLE_APPLICATION_CREDENTIALS": str(path), **VERTEX_ENV}
    with pytest.raises(CredentialsError, match=problem) as caught:
        enabled_providers([], environ)
    assert "provider 'vertex'" in str(caught.value) and str(path) in str(caught.value)
    with pytest.raises(ConfigError, match=problem):
        load_settings(environ=environ)


def test_google_auth_fields_are_checked() -> None:
    with pytest.raises(ValidationError, match="only supported with protocol: gemini"):
        ProviderSpec(name="x", protocol="openai", base_url="https://h", auth="google")
    with pytest.raises(ValidationError, match="only used with auth: google"):
        ProviderSpec(name="x", protocol="gemini", base_url="https://h", credentials_file="k")


async def test_key_providers_get_no_token_headers() -> None:
    [google] = enabled_providers([], {"GEMINI_API_KEY": "g-1"})
    async with aiohttp.ClientSession() as session:
        assert await GoogleTokens(session).headers(google) == {}
    assert google.request_headers() == {"x-goog-api-key": "g-1"}
