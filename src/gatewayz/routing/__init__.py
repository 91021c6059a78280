"""Routing: candidate selection, failover with retries, circuit breakers, provider health."""
