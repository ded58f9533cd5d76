"""Package data: the built-in generator weights (``fashion_dcgan.npz``)."""
