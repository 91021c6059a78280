"""Rate limits: requests, tokens and calls at once per key, user, plan and client address;
counted in Redis when configured, in this process otherwise."""
