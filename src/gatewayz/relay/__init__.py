"""The request path below the API layer: plan, hold credits, forward with failover, settle, log.

`core` runs any exchange; the other modules build the exchange for one client API each.
"""
