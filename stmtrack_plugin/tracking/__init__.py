"""The tracker: per-video state over a memory bank, driving a model that memorizes and tracks."""
