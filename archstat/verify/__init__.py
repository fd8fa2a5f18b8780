"""Checks of archstat's arithmetic against torch, fvcore and FlopCounterMode."""
