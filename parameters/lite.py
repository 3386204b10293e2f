"""Setting of the built-in STMTrack-Lite model (EfficientNet-Lite0 trunk, ``train_lite`` recipe).

Chosen automatically when no parameter file is named and the weights are a Lite0 checkpoint
(:func:`stmtrack_plugin.weights.choose_params`). 225-pixel crops (the training crop size, a
15 x 15 score map at stride 16); the GOT-10k test values except ``test_lr`` and
``window_influence``, chosen on the 9 validation sequences of ``../shared/data/sequences`` by
``benchmarks/tune_params.py --grid test_lr=0.55,0.95 --grid window_influence=0.21,0.4`` on the
shipped float16 file (mean success AUC: test_lr 0.55 / window 0.4: 0.616, 0.55 / 0.21: 0.591,
0.95 / 0.4: 0.564, 0.95 / 0.21: 0.540; the grid was kept that small on purpose; the spread says
how much a single figure on 9 sequences moves). The model shipped before (base LR 0.04) had
picked the same values, and a second grid on it, ``--grid penalty_k=0.04,0.1 --grid
search_area_factor=4.0,5.0``, kept the GOT-10k values (search area 5.0 fell to 0.156: the
training crops use 4.0). Not a paper setting.
"""
import dataclasses

from stmtrack_plugin.config import TrackerParams
from stmtrack_plugin.model.trunks import model_config_for
from stmtrack_plugin.parameters import got10k


def parameters() -> TrackerParams:
    return dataclasses.replace(
        got10k.parameters(),
        name="lite",
        test_lr=0.55,
        window_influence=0.4,
        crop_size=225,
        total_stride=16,
        model=model_config_for("efficientnet_lite0", neck_channels=256, head_channels=128,
                               label_block=11, tower_norm="group"),
    )
