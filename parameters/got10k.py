"""GOT-10k test setting (authors' yaml test/got10k, GOT-10k-trained model; gpu_memory_threshold 1000)."""
from stmtrack_plugin.config import TrackerParams


def parameters() -> TrackerParams:
    return TrackerParams(
        name="got10k",
        test_lr=0.95,
        window_influence=0.21,
        penalty_k=0.04,
        search_area_factor=4.0,
        confidence_threshold=0.6,
    )
