"""Media parts and tool declarations, counted in every wire format the gateway reads or sends."""

import pytest

from gatewayz.protocols.input_parts import declares_tools, media_parts

PNG = "iVBORw0KGgo="
OPENAI_IMAGE = {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}}
OPENAI_FILE = {"type": "file", "file": {"file_id": "file-1"}}
OPENAI_AUDIO = {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}
RESPONSES_IMAGE = {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}
RESPONSES_FILE = {"type": "input_file", "file_id": "file-2"}
ANTHROPIC_IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}
ANTHROPIC_DOCUMENT = {"type": "document", "source": {"type": "file", "file_id": "file_3"}}
GEMINI_INLINE = {"inlineData": {"mimeType": "image/png", "data": PNG}}
GEMINI_FILE = {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/doc.pdf"}}
TEXT = {"type": "text", "text": "what is in the picture? an image_url, a document"}


@pytest.mark.parametrize(
    ("body", "count"),
    [
        ({"messages": [{"role": "user", "content": "plain text"}]}, 0),
        ({"messages": [{"role": "user", "content": [TEXT, OPENAI_IMAGE, OPENAI_FILE]}]}, 2),
        ({"messages": [{"role": "user", "content": [OPENAI_AUDIO, OPENAI_IMAGE]}]}, 2),
        ({"input": [{"role": "user", "content": [RESPONSES_IMAGE, RESPONSES_FILE]}]}, 2),
        ({"input": "a string input"}, 0),
        ({"messages": [{"role": "user", "content": [ANTHROPIC_IMAGE, ANTHROPIC_DOCUMENT]}]}, 2),
        (
            {"contents": [{"role": "user", "parts": [{"text": "hi"}, GEMINI_INLINE, GEMINI_FILE]}]},
            2,
        ),
    ],
    ids=["text", "openai", "openai-audio", "responses", "responses-text", "anthropic", "gemini"],
)
def test_media_parts_are_counted_in_every_format(body: dict, count: int) -> None:
    assert media_parts({"model": "m", **body}) == count


def test_images_inside_tool_results_and_system_blocks_count() -> None:
    result = {"type": "tool_result", "tool_use_id": "t1", "content": [ANTHROPIC_IMAGE, TEXT]}
    body = {
        "system": [TEXT],
        "messages": [
            {"role": "user", "content": [result]},
            {"role": "assistant", "content": "seen"},
            {"role": "user", "content": [ANTHROPIC_IMAGE, ANTHROPIC_IMAGE]},
        ],
    }
    assert media_parts(body) == 3


def test_malformed_parts_are_not_counted_and_do_not_fail() -> None:
    odd = [{"type": {"not": "a string"}}, {"type": ["image"]}, "text", 7, None]
    assert media_parts({"messages": [{"role": "user", "content": odd}], "input": 3}) == 0


def test_schemas_and_settings_are_not_input() -> None:
    schema = {"type": "object", "properties": {"kind": {"type": "image"}}}
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}],
        "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
    }
    assert media_parts(body) == 0


def test_declared_tools() -> None:
    assert declares_tools({"tools": [{"type": "function", "function": {"name": "f"}}]})
    assert not declares_tools({"tools": []})
    assert not declares_tools({"tools": None})
    assert not declares_tools({"messages": []})


def test_json_mode_counts_as_declared_tools() -> None:
    # Anthropic models answer JSON mode with a tool, whose instructions the provider adds.
    assert declares_tools({"response_format": {"type": "json_object"}})
    assert not declares_tools({"response_format": {"type": "json_schema"}})
