"""Parquet feature stores: schemas, atomic per-source parts, manifests."""
