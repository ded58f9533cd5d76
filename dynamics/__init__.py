"""Online-SGD ODEs of two-layer networks on generator data and the matching SGD simulations."""
