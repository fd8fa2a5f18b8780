"""Networks the zoo names that no YAML config expresses, as plain-torch modules (no torchvision,
no transformers, no download). Each file imports torch when it is imported: only ``module:``
targets load them (``archstat.zoo.MODULES`` names them), never an analytic command."""
