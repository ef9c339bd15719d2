"""A team's own feature code, as a platform team would ship it in the training image (used
by the tests of features.custom and features.text tokenizer)."""
