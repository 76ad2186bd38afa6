"""Running models and measuring them: backends, devices, the latency protocol, complexity counts."""
