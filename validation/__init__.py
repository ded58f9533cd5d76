"""Finite-size simulations that check the theory, comparisons, plots and the Gaussian-equivalence check."""
