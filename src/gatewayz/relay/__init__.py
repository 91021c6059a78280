"""The request path below the API layer: plan, hold credits, forward with failover, settle, log.

`core` runs any exchange, through its steps: `admission` (rate limits and the credit hold),
`streaming` (opening and forwarding a stream) and `settlement` (the charge and the request log),
on the `call` it admitted; `plan` and `exchange` hold what it runs, `outcome` who hears how a
call ended; the other modules are the front ends that build the exchange for one client API
each.
"""
