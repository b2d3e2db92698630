"""Training pieces without Ray: EMA, LR schedule, checkpoint state, parallelism, stage losses."""
