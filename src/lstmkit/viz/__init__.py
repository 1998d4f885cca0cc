"""Plots: training curves, forecasts, attention, gate activations."""
