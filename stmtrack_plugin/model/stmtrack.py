"""The STMTrack network: explicit stage methods, ``forward`` = the training step.

Coordinate frames and conventions:

* Images are float tensors holding **BGR** values in 0..255 (the crops the tracker cuts from cv2
  frames); the backbones normalise them themselves (each trunk its own way, see :mod:`.trunks`).
* A crop has side S (289 for the authors' model); features and score maps have side
  ``s, offset = model.score_geometry(S)`` (25, 48 for the authors' model), K = s * s cells,
  flattened row-major (x fastest).
* Boxes are xyxy in crop pixels; cell (i, j) is centred at
  ``(offset + stride j, offset + stride i)`` (stride 8 for the authors' model).

The module holds no per-video state: one model can serve several trackers.
"""
from __future__ import annotations

from concurrent.futures import Executor
from typing import Optional, Tuple

import torch
from torch import nn

from stmtrack_plugin.config import ModelConfig
from stmtrack_plugin.model.head import HeadOutput, LegacyBlock, Neck, STMHead
from stmtrack_plugin.model.trunks import TrunkSpec, check_config, score_geometry

#: names of the four unused SiamFC++ blocks that the authors' checkpoints carry
LEGACY_BLOCKS = ("r_z_k", "c_z_k", "r_x", "c_x")
#: the prefixes of their parameter and buffer names (``str.startswith`` accepts the tuple)
LEGACY_PREFIXES = tuple(f"{name}." for name in LEGACY_BLOCKS)


class STMTrack(nn.Module):
    """Space-time memory tracker network (Fu et al., CVPR 2021) on the trunk ``config.backbone``
    (default: the authors' GoogLeNet variant)."""

    def __init__(self, config: ModelConfig = ModelConfig(), init_weights: bool = True):
        super().__init__()
        self.config = config
        self.trunk: TrunkSpec = check_config(config)
        self.basemodel_m = self.trunk.build_memory(config)
        self.basemodel_q = self.trunk.build_query(config)
        trunk_channels = self.basemodel_q.out_channels
        self.neck_m = Neck(trunk_channels, config.neck_channels, init_weights)
        self.neck_q = Neck(trunk_channels, config.neck_channels, init_weights)
        self.head = STMHead(config.neck_channels, config.head_channels, config.head_num_convs,
                            config.total_stride, init_weights, config.tower_norm)
        for name in LEGACY_BLOCKS:
            self.add_module(name, LegacyBlock(config.head_channels))
        if init_weights:  # off when every tensor is overwritten next (a checkpoint load)
            self.trunk.init_weights(self.basemodel_m)
            self.trunk.init_weights(self.basemodel_q)

    def score_geometry(self, crop_size: int) -> Tuple[int, int]:
        """``(score_size, offset)`` of the score map for crops of side ``crop_size``."""
        return score_geometry(self.config, crop_size)

    # -- stages ---------------------------------------------------------------------------------
    def memorize(self, frames: torch.Tensor, fg_bg: torch.Tensor) -> torch.Tensor:
        """Encode N memory crops into one memory tensor.

        frames (N, 3, S, S) BGR 0..255 and fg_bg (N, 1, S, S) with 1 inside the target box
        -> memory (1, C, N, s, s); the tracker concatenates such tensors on dim 2.
        """
        fm = self.neck_m(self.basemodel_m(frames, fg_bg))  # (N, C, s, s)
        return fm.permute(1, 0, 2, 3).unsqueeze(0).contiguous()

    def encode_query(self, query: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) BGR 0..255 -> query features (B, C, s, s)."""
        return self.neck_q(self.basemodel_q(query))

    def predict(self, query: torch.Tensor, memory: torch.Tensor,
                memory_mask: Optional[torch.Tensor] = None) -> HeadOutput:
        """query (B, 3, S, S), memory (B, C, T, s, s) -> :class:`HeadOutput` (logits, boxes).

        ``memory_mask`` (B, T) bool, True for real frames, when rows were padded to the same T
        (the batched tracker; see :func:`~stmtrack_plugin.model.head.memory_read`)."""
        offset = self.score_geometry(query.shape[-1])[1]
        return self.head(memory, self.encode_query(query), offset, memory_mask)

    def track(self, query: torch.Tensor, memory: torch.Tensor,
              memory_mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """The tracker protocol: query (B, 3, S, S), memory (B, C, T, s, s) ->
        (score (B, K) = sigmoid(cls) * sigmoid(ctr), boxes (B, K, 4) xyxy crop pixels), both
        float32 whatever the compute dtype. B is 1 for :class:`STMTracker`; the batched tracker
        passes B sequences with ``memory_mask`` (B, T)."""
        return self.track_features(self.encode_query(query), memory, query.shape[-1],
                                   memory_mask)

    def track_features(self, fq: torch.Tensor, memory: torch.Tensor, crop_size: int,
                       memory_mask: Optional[torch.Tensor] = None,
                       executor: Optional[Executor] = None
                       ) -> Tuple[torch.Tensor, torch.Tensor]:
        """:meth:`track` from query features fq (B, C, s, s) (:meth:`encode_query` of crops of
        side ``crop_size``). ``executor``: run the two head towers at once (see
        ``STMHead.solve``; same result)."""
        offset = self.score_geometry(crop_size)[1]
        out = self.head(memory, fq, offset, memory_mask, executor)
        score = torch.sigmoid(out.cls_logits.float()) * torch.sigmoid(out.ctr_logits.float())
        return score[..., 0], out.boxes

    def forward(self, memory_frames: torch.Tensor, memory_fg_bg: torch.Tensor,
                query: torch.Tensor) -> HeadOutput:
        """Training step: memory_frames (B, T, 3, S, S), memory_fg_bg (B, T, 1, S, S) and
        query (B, 3, S, S) -> :class:`HeadOutput` for the query frames."""
        b, t = memory_frames.shape[:2]
        size = memory_frames.shape[-1]
        fm = self.neck_m(self.basemodel_m(memory_frames.reshape(b * t, 3, size, size),
                                          memory_fg_bg.reshape(b * t, 1, size, size)))
        fm = fm.reshape(b, t, *fm.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()  # (B, C, T, s, s)
        return self.predict(query, fm)


def build_model(config: ModelConfig = ModelConfig(), init_weights: bool = True) -> STMTrack:
    """Build an STMTrack network with random weights (load a checkpoint next).

    ``config.backbone`` picks the trunk; a config that contradicts its trunk (stride, channels)
    raises ``ValueError``. ``init_weights=False`` skips the trunk, neck and head initialisation;
    with ``torch.device("meta")`` it builds the modules without allocating or drawing anything,
    as :func:`~stmtrack_plugin.model.checkpoint.build_model_from_checkpoint` does.
    """
    check_config(config)
    return STMTrack(config, init_weights)
