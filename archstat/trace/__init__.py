"""Any ``nn.Module`` → rows and totals: the opposite way from ``builder/`` (config → module).

``analyze`` runs the forward once and follows every aten operator (``recorder``), costed by
``aten_costs``; ``factory`` reads ``module:`` targets. torch is imported lazily.
"""
