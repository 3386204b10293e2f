"""STMTracker: the authors' STMTrack tracker (STMTRACK_SPEC.md §2) over a memory bank.

The tracker is a :class:`~stmtrack_plugin.interfaces.Tracker` over any
:class:`~stmtrack_plugin.interfaces.TrackingModel` (:mod:`stmtrack_plugin.interfaces` describes
frames, boxes and the model's tensors). What this tracker adds:

* Frames: grayscale is expanded to 3 channels, other layouts are refused (see :mod:`.inputs`);
  all frames of a sequence must have the size of the init frame.
* Boxes: the centre is ``cx = x + (w - 1) / 2`` (the authors' "+1" width convention). The init
  box is used as given (the authors' toolkits pass OTB's 1-based ground-truth line unchanged).
* Model: one with :class:`~stmtrack_plugin.interfaces.ScoreGeometry` (every
  :class:`~stmtrack_plugin.model.STMTrack`, whatever its trunk) sets the score grid; other models
  are taken to have the authors' Inception geometry. The tracker keeps all per-video state.
* ``track`` returns a :class:`TrackResult`; its ``score`` is the windowed, penalised score of
  the chosen cell (what the confidence gate reads), and it carries diagnostics for parity.
"""
from __future__ import annotations

import contextlib
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch

from stmtrack_plugin.config import TrackerParams, resolve_weights
from stmtrack_plugin.interfaces import ScoreGeometry, StagedTrackingModel, TrackingModel
from stmtrack_plugin.model.geometry import score_offset, score_size
from stmtrack_plugin.model.stages import submit_here
from stmtrack_plugin.tracking.boxes import cxywh_to_xywh, xywh_to_cxywh, xyxy_to_cxywh
from stmtrack_plugin.tracking.crop import crop_square, fg_bg_label_map, mean_colour
from stmtrack_plugin.tracking.crop_memory import CropMemoryBank, StoredCrop
from stmtrack_plugin.tracking.inputs import check_box, check_frame
from stmtrack_plugin.tracking.memory import (MemoryBank, can_be_selected_later, frames_to_evict,
                                             nearest_frame, select_memory_indices)
from stmtrack_plugin.tracking.postprocess import choose_cell, clamp_box, cosine_window, update_box

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class TrackResult:
    """One tracked frame. ``box`` is ``(x, y, w, h)`` in frame pixels (see module docstring)."""

    box: Tuple[float, float, float, float]
    score: float  # windowed, penalised score of the chosen cell (float64)
    frame_index: int  # 1 for the first frame after initialize
    best_index: int  # chosen score-map cell, score_size * row + column
    raw_score: float  # the model's score at that cell, before penalty and window
    memory_frames: Tuple[int, ...]  # frames read by the query, in concatenation order
    crop_scale: float  # query crop scale: crop pixels per frame pixel (the authors' scale_q)
    gate: Optional[bool]  # previous frame passed the confidence gate (None: gate not applied)
    score_map: Optional[np.ndarray] = None  # (K,) raw scores, only when the tracker has debug=True

    @property
    def num_memory(self) -> int:
        return len(self.memory_frames)


@dataclass(frozen=True)
class StepInputs:
    """What :meth:`STMTracker.prepare_step` cuts for frame ``n`` (before any network call)."""

    image: np.ndarray  # the checked frame, HxWx3 uint8 BGR
    n: int  # its index; frames 0 .. n-1 are memorized when it is tracked
    memory_entry: StoredCrop  # frame n-1's memory crop (memorized at this step)
    gate: Optional[bool]  # previous frame passed the confidence gate (None: not applied)
    query: np.ndarray  # (S, S, 3) uint8 query crop
    crop_scale: float  # query crop pixels per frame pixel


@dataclass
class _VideoState:
    image_wh: Tuple[int, int]
    pad_colour: Tuple[float, float, float]
    base_size: np.ndarray  # (2,) float32: init size / init scale
    pos: np.ndarray  # (2,) float32 (cx, cy) after the last frame
    size: np.ndarray  # (2,) float32 (w, h) after the last frame
    scale: float  # frame pixels per crop pixel for the next query crop
    last_image: np.ndarray  # the last frame, memorized lazily at the next track()
    last_pscore: float
    frame_index: int  # index of the last frame seen (0 = the init frame)


def build_model(weights: Optional[str] = None, device=None,
                compute_dtype: str = "float32") -> TrackingModel:
    """The network for a weights file (``weights``, ``$STMTRACK_WEIGHTS`` or the built-in
    model: :func:`stmtrack_plugin.config.choose_weights`), ready to track.

    The architecture is the one the checkpoint records (``model_config``, written by
    :func:`stmtrack_plugin.model.save_checkpoint`); the authors' files record none and get the
    default GoogLeNet model. The network is prepared for inference
    (:func:`stmtrack_plugin.model.inference.prepare_for_inference`: BatchNorm folded,
    channels-last, convs in ``compute_dtype``), so it is for tracking only (no BN keys to save).
    """
    from stmtrack_plugin.model import build_model_from_checkpoint
    from stmtrack_plugin.model.inference import COMPUTE_DTYPES, prepare_for_inference

    model = build_model_from_checkpoint(resolve_weights(weights), device=device)
    return prepare_for_inference(model, COMPUTE_DTYPES[compute_dtype])


def _score_grid(model: TrackingModel, params: TrackerParams) -> Tuple[int, int]:
    """(score_size, offset) for ``params.crop_size``: asked of the model when it can say."""
    if isinstance(model, ScoreGeometry):
        size, offset = model.score_geometry(params.crop_size)
        return int(size), int(offset)
    size = score_size(params.crop_size, params.model.crop_pad)
    return size, score_offset(params.crop_size, size, params.total_stride)


def _model_device(model) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for tensor in list(model.parameters()) + list(model.buffers()):
            return tensor.device
    return torch.device("cpu")


class STMTracker:
    """Single-object tracker: ``initialize(frame, box)`` then ``track(frame)`` per frame.

    Args:
        model: a :class:`~stmtrack_plugin.interfaces.TrackingModel`; an ``nn.Module`` is put
            in eval mode (and moved to ``device`` if one is given).
        params: tracker hyper-parameters (``stmtrack_plugin.config.load_parameters``).
        device: compute device for crops and memory (default: the model's device).
        debug: attach the raw score map to every :class:`TrackResult`.

    Memory: the authors keep every frame's features forever. This tracker drops a frame as
    soon as the selection rule can never read it again (:func:`.memory.can_be_selected_later`),
    which changes no output but still keeps ~7/8 of the frames (frame f is read again when
    n ~ 8f). Opt-in, for long sequences: ``params.max_memory_frames`` (a cap; not faithful
    beyond it), ``storage_dtype`` float16, ``offload_after`` + ``storage_device``, and
    ``memory_mode="crops"`` (exact: keeps uint8 crops and re-encodes them, see
    :mod:`.crop_memory`).

    Compute: ``params.compute_dtype`` "bfloat16" runs the network under ``torch.autocast``
    (opt-in, not faithful; the memory read, the box decoding and the scores stay float32). Any
    model works; one prepared with that dtype (:meth:`from_params` does it) skips the per-call
    weight casts. ``params.parallel_stages`` (opt-in, exact) runs the query encoder beside the
    memory side, and the box tower beside the classification tower, on a worker thread
    (:func:`stmtrack_plugin.model.stages.submit_here`); it needs the model's ``encode_query``
    and ``track_features``.
    """

    def __init__(self, model: TrackingModel, params: TrackerParams, device=None,
                 debug: bool = False):
        if not isinstance(model, TrackingModel):
            raise TypeError(f"{type(model).__name__} is not a TrackingModel: it needs memorize() "
                            "and track() (see stmtrack_plugin.interfaces)")
        self.model = model
        self.params = params
        self.device = torch.device(device) if device is not None else _model_device(model)
        if isinstance(model, torch.nn.Module):
            if device is not None:
                model.to(self.device)
            model.eval()
        self.debug = debug
        self.compute_dtype = _DTYPES[params.compute_dtype]
        prepared = getattr(model, "inference_dtype", None)
        if prepared is not None and prepared != self.compute_dtype:
            raise ValueError(f"the model was prepared for {prepared} but params.compute_dtype is "
                             f"{params.compute_dtype!r}; prepare it with that dtype")
        self.score_size, self.score_offset = _score_grid(model, params)
        self.window = cosine_window(self.score_size)
        if params.memory_mode == "crops":
            self.memory = CropMemoryBank(self._encode)
        else:
            self.memory = MemoryBank(self.device, storage_device=params.storage_device,
                                     storage_dtype=_DTYPES[params.storage_dtype],
                                     offload_after=params.offload_after)
        self._state: Optional[_VideoState] = None
        self._stages: Optional[ThreadPoolExecutor] = None
        if params.parallel_stages:
            if not isinstance(model, StagedTrackingModel):
                raise ValueError(f"parallel_stages needs a model with encode_query() and "
                                 f"track_features() ({type(model).__name__} has not; see "
                                 "stmtrack_plugin.interfaces); set parallel_stages=False")
            self._stages = ThreadPoolExecutor(1, thread_name_prefix="stmtrack-stage")

    @classmethod
    def from_params(cls, params: TrackerParams, weights: Optional[str] = None, device=None,
                    debug: bool = False) -> "STMTracker":
        """Build the network a weights file describes (``weights``, $STMTRACK_WEIGHTS, else
        the built-in model). ``params`` is used as given (pick it with
        :func:`stmtrack_plugin.weights.choose_params` to follow the weights)."""
        device = torch.device(device or "cpu")
        return cls(build_model(weights, device, params.compute_dtype), params, device, debug)

    @property
    def initialized(self) -> bool:
        return self._state is not None

    def initialize(self, image: np.ndarray, box) -> None:
        """Start a new video: ``image`` HxWx3 uint8 BGR, ``box`` ``[x, y, w, h]``. No network call."""
        image = check_frame(image)
        image_wh = (image.shape[1], image.shape[0])
        box = check_box(box, image_wh)
        cxywh = xywh_to_cxywh(box)
        pos, size = cxywh[:2].copy(), cxywh[2:].copy()
        p = self.params
        scale = math.sqrt(np.prod(size * np.float32(p.search_area_factor))) / p.crop_size
        self.memory.clear()
        self._state = _VideoState(
            image_wh=image_wh, pad_colour=mean_colour(image),
            base_size=(size / np.float32(scale)).astype(np.float32), pos=pos, size=size,
            scale=scale, last_image=image.copy(), last_pscore=1.0, frame_index=0)

    def track(self, image: np.ndarray) -> TrackResult:
        """Track the target in the next frame; returns its box and score."""
        step = self.prepare_step(image)
        with torch.inference_mode(), self._autocast():
            query = self._to_tensor(step.query)
            pending = None if self._stages is None else submit_here(  # query encoder, beside
                self._stages, self.device.type, self.model.encode_query, query)  # the memory side
            entry = step.memory_entry
            self.store_memory(step, entry if self.params.memory_mode == "crops"
                              else self._encode(entry))
            frames = self.memory_frames(step)
            memory = self.memory.gather(frames)
            if pending is None:
                score, boxes = self.model.track(query, memory)
            else:
                score, boxes = self.model.track_features(pending.result(), memory,
                                                         query.shape[-1], executor=self._stages)
        return self.finish_step(step, frames, score, boxes)

    # -- the stages of track(), also driven by the batched tracker (tracking.batch) ----------
    def prepare_step(self, image: np.ndarray) -> "StepInputs":
        """Check the next frame and cut its crops (no network call, no state change)."""
        st = self._state
        if st is None:
            raise RuntimeError("track() called before initialize(image, box)")
        image = check_frame(image)
        if (image.shape[1], image.shape[0]) != st.image_wh:
            raise ValueError(f"frame size changed from {st.image_wh[0]}x{st.image_wh[1]} to "
                             f"{image.shape[1]}x{image.shape[0]} (WxH); re-initialize the tracker "
                             "for a new video")
        p = self.params
        n = st.frame_index + 1  # frames 0 .. n-1 are (or are about to be) memorized
        entry = self._memory_crop(st.last_image, st.pos, st.size)
        gate = None if n <= p.num_segments else bool(st.last_pscore > p.confidence_threshold)
        query, crop_scale = crop_square(image, st.pos, st.scale, p.crop_size, st.pad_colour)
        return StepInputs(image, n, entry, gate, query, crop_scale)

    def store_memory(self, step: "StepInputs", memory) -> None:
        """Memorize the previous frame: its features (1, C, 1, h, w), or in crops mode its
        :class:`StoredCrop` (``step.memory_entry``)."""
        self.memory.add(step.n - 1, memory)

    def memory_frames(self, step: "StepInputs") -> List[int]:
        """The frames the query reads (after :meth:`store_memory`), in concatenation order."""
        frames = select_memory_indices(step.n, self.params.num_segments, bool(step.gate))
        if self.params.max_memory_frames is not None:
            stored = self.memory.frames
            frames = [f if f in self.memory else nearest_frame(f, stored) for f in frames]
        return frames

    def finish_step(self, step: "StepInputs", frames: List[int], score: torch.Tensor,
                    boxes: torch.Tensor) -> TrackResult:
        """Post-process the model's output for this frame, (1, K) scores and (1, K, 4) xyxy
        boxes (any device), update the state and prune the memory."""
        st, p, n = self._state, self.params, step.n
        score = score.reshape(-1).float().cpu().numpy()
        boxes = boxes.reshape(-1, 4).float().cpu().numpy()
        if score.size != self.score_size ** 2:
            raise ValueError(f"model returned {score.size} scores, expected {self.score_size}^2 "
                             f"for crop_size {p.crop_size}: crop_size does not match the model")
        boxes_cxywh = xyxy_to_cxywh(boxes)
        choice = choose_cell(score, boxes_cxywh, st.size, step.crop_scale, self.window,
                             p.penalty_k, p.window_influence)
        pos, size = update_box(choice, boxes_cxywh, st.pos, st.size, step.crop_scale,
                               p.crop_size, p.test_lr)
        pos, size = clamp_box(pos, size, st.image_wh, p.min_w, p.min_h)
        # a private copy: callers often draw on their frame after track() returns
        st.pos, st.size, st.last_image, st.frame_index = pos, size, step.image.copy(), n
        st.scale = math.sqrt(np.prod(size) / np.prod(st.base_size))
        st.last_pscore = choice.pscore
        self._prune_memory(n)
        x, y, w, h = cxywh_to_xywh(np.concatenate([pos, size])).tolist()
        return TrackResult(
            box=(x, y, w, h), score=choice.pscore, frame_index=n, best_index=choice.index,
            raw_score=float(choice.score), memory_frames=tuple(frames),
            crop_scale=step.crop_scale, gate=step.gate, score_map=score if self.debug else None)

    def _autocast(self):
        """``torch.autocast`` to the compute dtype, or nothing in float32 (the exact path)."""
        if self.compute_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.compute_dtype)

    def _prune_memory(self, n: int) -> None:
        """After tracking frame n: drop frames the rule can never read again, then apply the cap."""
        p = self.params
        stale = []
        for f in self.memory.frames:  # ascending
            if f == 0:
                continue
            if can_be_selected_later(f, n, p.num_segments):
                break  # reachability only grows with f, so the rest stay too
            stale.append(f)
        self.memory.discard(stale)
        if p.max_memory_frames is not None:
            self.memory.discard(frames_to_evict(self.memory.frames, p.max_memory_frames))

    def _memory_crop(self, image: np.ndarray, pos: np.ndarray, size: np.ndarray) -> StoredCrop:
        """A past frame's memory crop around its tracked box (no network call)."""
        p = self.params
        scale = math.sqrt(np.prod(size) / np.prod(self._state.base_size))
        crop, crop_scale = crop_square(image, pos, scale, p.crop_size, self._state.pad_colour)
        return StoredCrop(crop, np.array(size, dtype=np.float32), crop_scale)

    def _encode(self, entry: StoredCrop) -> torch.Tensor:
        """Encode one memorized frame: memory (1, C, 1, h, w)."""
        label = torch.from_numpy(self.label_map(entry))[None, None].to(self.device)
        return self.model.memorize(self._to_tensor(entry.crop), label)

    def label_map(self, entry: StoredCrop) -> np.ndarray:
        """(S, S) float32 fg/bg label map of a memory crop (``model.memorize`` input)."""
        return fg_bg_label_map(entry.size_wh, entry.crop_scale, self.params.crop_size)

    def _to_tensor(self, crop: np.ndarray) -> torch.Tensor:
        """HxWx3 uint8 -> (1, 3, H, W) float32 on the compute device (values 0..255, BGR)."""
        return torch.from_numpy(crop).to(self.device).permute(2, 0, 1)[None].float()
