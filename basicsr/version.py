"""Package version; 1.4.x signals the BasicSR 1.4 public surface this package keeps."""

__version__ = '1.4.2.post1'
