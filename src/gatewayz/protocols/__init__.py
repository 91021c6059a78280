"""Wire formats and pure translation functions; no HTTP in here."""
