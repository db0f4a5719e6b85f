"""Handing trained networks to other tools: safetensors / Real-ESRGAN .pth / verified ONNX files, spandrel checks."""
