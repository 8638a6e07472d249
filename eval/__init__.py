"""Offline evaluation: NER quality, calibration and speed benchmarks, with reports."""
