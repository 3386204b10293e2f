"""VOT2018 test setting (authors' yaml test/vot, full-data model). The previous frame always enters memory (threshold 0.0)."""
from stmtrack_plugin.config import TrackerParams


def parameters() -> TrackerParams:
    return TrackerParams(
        name="vot2018",
        test_lr=0.9629084797864664,
        window_influence=0.2674225347735762,
        penalty_k=0.04120782242066555,
        search_area_factor=4.056291055280747,
        confidence_threshold=0.0,
    )
