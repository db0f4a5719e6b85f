"""Inference: networks rebuilt from checkpoints, image files in and out, tiled forward passes (`basicsr/infer.py`)."""
