"""Credits: prices, the ledger (reserve/settle), credit grants."""
