"""From raw columns to a scikit-learn pipeline: each column's type, what the estimator needs,
the preprocessing, the estimator itself (within its allow-list), leak and quality warnings."""
