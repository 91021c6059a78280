"""What the Responses translations share: checks of fields a chat model cannot take, which
tools run on the client, and the known `include` values."""

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.protocols.checks import Json, string

# Tools the client runs: the model only writes their calls, billed as output tokens. Every
# other tool type (web_search, file_search, code_interpreter, mcp, ...) runs at OpenAI.
CLIENT_TOOLS = frozenset({"function", "custom", "namespace", "local_shell", "apply_patch"})
INCLUDE = frozenset(
    {
        "file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
        "message.input_image.image_url", "computer_call_output.output.image_url",
        "code_interpreter_call.outputs", "reasoning.encrypted_content",
        "message.output_text.logprobs",
    }
)  # fmt: skip


def only(body: Json, allowed: frozenset[str], where: str) -> None:
    """Refuse every field of `body` outside allowed that is set."""
    for key, value in body.items():
        if key not in allowed and value is not None:
            raise InvalidRequest(
                f"'{where}.{key}' cannot be sent to a chat completions model.",
                param=f"{where}.{key}",
            )


def string_field(body: Json, key: str, where: str) -> str:
    """body[key], which must be a string."""
    return string(body.get(key), f"{where}.{key}")


def runs_on_client(tool: Any) -> bool:
    """Whether a tool is one the client runs (a shell too, unless it runs in a container)."""
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind in CLIENT_TOOLS:
        return True
    environment = tool.get("environment") if isinstance(tool, dict) else None
    return kind == "shell" and (
        environment is None
        or (isinstance(environment, dict) and environment.get("type") == "local")
    )
