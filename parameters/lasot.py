"""LaSOT test setting (authors' yaml test/lasot). The yaml points to the GOT-10k-only checkpoint."""
from stmtrack_plugin.config import TrackerParams


def parameters() -> TrackerParams:
    return TrackerParams(
        name="lasot",
        test_lr=0.95,
        window_influence=0.21,
        penalty_k=0.04,
        search_area_factor=4.0,
        confidence_threshold=0.6,
    )
