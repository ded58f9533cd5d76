"""One module per figure of the paper; composes the other packages and owns no formulas."""
