"""Renderers: one per output format. They take ModelStats (or a comparison) and return text."""
