"""OTB-2015 test setting (authors' yaml test/otb, full-data model; searched values)."""
from stmtrack_plugin.config import TrackerParams


def parameters() -> TrackerParams:
    return TrackerParams(
        name="otb",
        test_lr=0.5501132208837838,
        window_influence=0.20534968836733386,
        penalty_k=0.07592315864890313,
        search_area_factor=4.0,
        confidence_threshold=0.6,
    )
