"""The `keys:` section of the config file: API key management over HTTP."""

from pydantic import BaseModel, ConfigDict, Field

DAY_SECONDS = 86_400


class KeySettings(BaseModel):
    """Defaults and bounds for keys users manage themselves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rotation_grace_seconds: int = Field(
        default=DAY_SECONDS,
        ge=0,
        description="How long a rotated key keeps working when the request names no grace.",
    )
    max_rotation_grace_seconds: int = Field(
        default=30 * DAY_SECONDS, ge=0, description="The longest grace a request may ask for."
    )
    max_keys_per_user: int = Field(
        default=100, ge=1, description="Keys a user may hold at once (revoked ones not counted)."
    )
