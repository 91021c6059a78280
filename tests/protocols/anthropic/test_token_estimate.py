"""The documented estimate of a Messages request's input tokens."""

from gatewayz.protocols.anthropic.token_estimate import estimate_input_tokens


def test_text_is_four_bytes_a_token_plus_each_message_and_media_block() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    body = {
        "system": [{"type": "text", "text": "a" * 40}],
        "messages": [
            {"role": "user", "content": "b" * 8},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "c" * 4, "signature": "s" * 400},
                    {"type": "tool_use", "id": "t", "name": "f", "input": {"x": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": [image]},
                    {"type": "text", "text": "é" * 2},
                ],
            },
        ],
        "tools": [{"name": "ff", "description": "dd", "input_schema": {}}],
    }
    # The text is 40 + 8 + 4 + 1 + 7 + 4 + 6 = 70 bytes, 18 tokens counted together (not
    # block by block); then the image's 1,600 and 4 for each of the 3 messages.
    assert estimate_input_tokens(body) == 18 + 1_600 + 12


def test_an_empty_request_is_at_least_one_token() -> None:
    assert estimate_input_tokens({"messages": []}) == 1
