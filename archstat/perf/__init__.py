"""Time: from exact counts to a predicted latency on a device and a runtime (see ``perf.predict``)."""
