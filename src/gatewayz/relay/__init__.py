"""The request path below the API layer: plan, hold credits, forward with failover, settle, log.

`core` runs any exchange; `plan` and `exchange` hold what it runs, `outcome` who hears how a
call ended; the other modules are the front ends that build the exchange for one client API
each.
"""
