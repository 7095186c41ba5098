"""One module per chapter of the book: each turns engine runs and solver calls into typed results
that a chapter displays and :mod:`sae.report` judges."""
