"""Measuring the real module on a device, beside the analytic estimate."""
