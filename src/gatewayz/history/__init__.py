"""Chat history: sessions of stored messages that chat completions can continue."""
