"""Latency of subnets: timed on a device in a runtime, or predicted by models calibrated on that device."""
