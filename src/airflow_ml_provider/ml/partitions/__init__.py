"""One model per partition value: training chunks of partitions, their held-out answers, and
assembling the routed model."""
