"""BasicSR 1.4's module path for RealESRGANPairedDataset (registered as `RealESRGANPairedDataset_basicsr`)."""

from basicsr.data.realesrgan_dataset import RealESRGANPairedDataset

__all__ = ['RealESRGANPairedDataset']
