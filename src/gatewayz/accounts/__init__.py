"""Users, API keys and the auth dependency."""
