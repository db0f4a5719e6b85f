"""Evaluation of result folders against ground truth: image matching, metrics per image, result tables."""
