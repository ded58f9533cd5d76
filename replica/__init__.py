"""Replica saddle-point theory of full-batch ERM on Gaussian covariate models."""
