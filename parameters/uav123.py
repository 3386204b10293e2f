"""UAV123 test setting (authors' yaml test/UAV123, full-data model; searched values)."""
from stmtrack_plugin.config import TrackerParams


def parameters() -> TrackerParams:
    return TrackerParams(
        name="uav123",
        test_lr=0.5405424265010361,
        window_influence=0.20298940424940976,
        penalty_k=0.07067416478817143,
        search_area_factor=4.171677449782462,
        confidence_threshold=0.6,
    )
