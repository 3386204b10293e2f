"""TrackingNet test setting (authors' yaml test/trackingnet, full-data model)."""
from stmtrack_plugin.config import TrackerParams


def parameters() -> TrackerParams:
    return TrackerParams(
        name="trackingnet",
        test_lr=0.95,
        window_influence=0.21,
        penalty_k=0.04,
        search_area_factor=4.0,
        confidence_threshold=0.6,
    )
