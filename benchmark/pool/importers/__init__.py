"""Pools made from data outside the project: DCLM jsonl shards and DataComp webdataset
shards (external.py dispatches by format), and bench pool archives (archive.py)."""
