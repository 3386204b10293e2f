"""Cached-feature training route (``TrainConfig.feature_cache``): compute the frozen early trunk
once, train the rest on its cached activations.

Split. Both EfficientNet-Lite0 trunks are cut after block ``cache_blocks - 1`` (default 5: stem
+ blocks 0..4, the part the trunk's freeze plan never trains; the lite recipe uses 11, the whole
trunk). The *prefix* (stem, blocks before the split and, for the memory trunk, the fg/bg
label-map conv when the label enters before the split) is frozen for the whole run, BN affine
parameters included and BN layers in eval mode, so its output for a given crop never changes.
With the label entering inside the prefix (``label_block < cache_blocks``, e.g. the default 0)
the label-map conv keeps its initial weights, unlike the full route: an opt-in deviation of
this route. With ``label_block >= cache_blocks`` it trains.

Stage (a), :func:`build_feature_cache`: ``cache_pairs`` frame pairs are drawn as
:class:`~stmtrack_plugin.training.pairs.TrainingPairs` draws them (pair ``p`` from a generator
seeded ``(seed, CACHE_STREAM, p)``); each gets ``cache_draws`` independent random crops (draw
``d``: ``(seed, CACHE_STREAM, p, d + 1)``) with the trainer's targets
(:func:`~stmtrack_plugin.training.targets.make_densebox_target`). Sample ``j = p * K + d`` stores

* ``memory`` (T, C, h, w) float16: prefix activations of the T memory crops (label map added
  if it enters inside the prefix),
* ``memory_label`` (T, 1, h', w') float16, only when the label map enters at or after the split
  (``ModelConfig.label_block >= cache_blocks``): the crops' cell-averaged label maps; the label
  projection then trains like the rest of the suffix (the lite recipe: ``label_block = 11``,
  ``cache_blocks = 11``, i.e. the whole trunk frozen and cached, the label added at its output),
* ``query`` (C, h, w) float16: prefix activations of the query crop,
* ``cls_gt``, ``ctr_gt`` (k, 1) and ``box_gt`` (k, 4) float32, as the full route's items,

in ``.npy`` shards of ``SHARD_PAIRS * K`` samples, each file written to a temporary name and
renamed; a shard counts once its ``shard-<n>.json`` exists. ``manifest.json`` records the cache
key: the sample-making recipe fields (crops, jitter, sampling, seed, datasets, model up to the
trunks: :data:`HEAD_FIELDS` are left out), the data
root and the sha256 of the prefix weights of both trunks. A cache with another key is deleted
and rebuilt, never reused; an interrupted build resumes at the first missing shard. The number
of pairs is not part of the key (pair ``p`` depends only on the seed and ``p``): asking for more
pairs keeps every complete shard and computes the rest, asking for fewer drops shards.

Stage (b), :class:`FeatureCache` +
:func:`~stmtrack_plugin.training.trunk_split.forward_from_cache`: items are read back memory-mapped
(shapes and dtypes checked against the manifest) and run through the trunks' remaining blocks,
the necks, the memory read and the head; the losses are the full route's.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Dict, Optional

import numpy as np
import torch

from stmtrack_plugin.training.config import TrainConfig
from stmtrack_plugin.training.trunk_split import check_cacheable, encode_prefix, prefix_sha256
from stmtrack_plugin.utils.io import atomic_write_text

CACHE_VERSION = 1
CACHE_STREAM = 0xCAC4E  # keeps cache draws apart from the full route's (seed, epoch, index)
SHARD_PAIRS = 16
ARRAYS = ("memory", "query", "cls_gt", "ctr_gt", "box_gt")
#: stored too when the memory trunk adds its label map after the split (``label_in_suffix``)
LABEL_ARRAY = "memory_label"
#: TrainConfig fields that change what the cache holds (the others only drive stage b)
SAMPLE_FIELDS = ("model", "datasets", "crop_size", "num_memory_frames", "max_gap",
                 "negative_ratio", "search_factor", "scale_jitter", "shift_jitter",
                 "max_aspect_ratio", "area_rate_range", "max_sample_tries", "seed",
                 "authors_sampler_bug", "authors_filter_bug", "cache_draws", "cache_blocks")
#: ModelConfig fields of the parts after the trunks: they never change what the cache holds, so
#: they are left out of the key (a head variant trains on the same cache)
HEAD_FIELDS = ("neck_channels", "head_channels", "head_num_convs", "tower_norm")
# ``cache_pairs`` is not in the key: pair ``p`` depends only on the seed and ``p``, so a cache
# grows (or shrinks) by shards (see :func:`_resize_cache`).


class StaleCacheError(ValueError):
    """A cache folder's files do not match its manifest."""


def cache_key(model: torch.nn.Module, cfg: TrainConfig, data_root: str) -> dict:
    """What a cache must have been made with to be reused (JSON-ready)."""
    fields = {name: getattr(cfg, name) for name in SAMPLE_FIELDS}
    fields["model"] = {k: v for k, v in dataclasses.asdict(cfg.model).items()
                       if k not in HEAD_FIELDS}
    fields = json.loads(json.dumps({k: dataclasses.asdict(v) if dataclasses.is_dataclass(v)
                                    else [dataclasses.asdict(d) for d in v] if k == "datasets"
                                    else v for k, v in fields.items()}))
    return {"version": CACHE_VERSION, "recipe": fields, "data_root": os.path.abspath(data_root),
            "prefix_sha256": prefix_sha256(model, cfg.cache_blocks)}


def same_key(stored, key: dict) -> bool:
    """Whether a manifest's ``stored`` key is ``key``. Fields the key no longer holds are ignored:
    :data:`HEAD_FIELDS` and ``cache_pairs``, which caches made before they were left out record."""
    if not isinstance(stored, dict) or not isinstance(stored.get("recipe"), dict) \
            or not isinstance(stored["recipe"].get("model"), dict):
        return False
    recipe = {k: v for k, v in stored["recipe"].items() if k != "cache_pairs"}
    recipe["model"] = {k: v for k, v in recipe["model"].items() if k not in HEAD_FIELDS}
    return {**stored, "recipe": recipe} == key


def _shard_path(folder: str, shard: int, what: str) -> str:
    return os.path.join(folder, f"shard-{shard:05d}.{what}")


def _save_npy(path: str, array: np.ndarray) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _remove_cache_files(folder: str) -> None:
    for name in os.listdir(folder):
        if name == "manifest.json" or re.match(r"^shard-\d{5}\.", name):
            os.unlink(os.path.join(folder, name))


def _drop_shard(folder: str, shard: int) -> None:
    """Delete one shard, its ``.json`` first so that a crash leaves it marked incomplete."""
    for name in [f"shard-{shard:05d}.json"] + sorted(
            n for n in os.listdir(folder) if n.startswith(f"shard-{shard:05d}.")):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            os.unlink(path)


def _resize_cache(folder: str, manifest: dict, n_pairs: int) -> dict:
    """Return ``manifest`` for ``n_pairs`` pairs, dropping the shards whose pair range changes.

    Shard ``s`` holds pairs ``[s * shard_pairs, min((s + 1) * shard_pairs, n_pairs))``; a shard
    is kept only when that range is the same for the old and the new number of pairs.
    """
    per = int(manifest["shard_pairs"])
    old_pairs = int(manifest["samples"]) // int(manifest["draws"])
    kept = min(old_pairs, n_pairs) // per  # shards complete under both sizes
    for shard in range(kept, int(manifest["shards"])):
        _drop_shard(folder, shard)
    print(f"feature cache {folder}: {old_pairs} -> {n_pairs} pairs, keeping {kept} of "
          f"{manifest['shards']} shards", flush=True)
    manifest = dict(manifest, samples=n_pairs * int(manifest["draws"]),
                    shards=-(-n_pairs // per))
    atomic_write_text(os.path.join(folder, "manifest.json"), json.dumps(manifest, indent=1))
    return manifest


def _read_manifest(folder: str) -> Optional[dict]:
    path = os.path.join(folder, "manifest.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _encode_items(model, cfg: TrainConfig, items) -> Dict[str, np.ndarray]:
    batch = {k: torch.stack([it[k] for it in items]) for k in
             ("memory_frames", "memory_fg_bg", "query", "cls_gt", "ctr_gt", "box_gt")}
    device = next(model.parameters()).device
    memory, query, label = encode_prefix(model, cfg.cache_blocks,
                                         batch["memory_frames"].to(device),
                                         batch["memory_fg_bg"].to(device), batch["query"].to(device))
    out = {"memory": memory.cpu().numpy().astype(np.float16),
           "query": query.cpu().numpy().astype(np.float16),
           **{k: batch[k].numpy().astype(np.float32) for k in ("cls_gt", "ctr_gt", "box_gt")}}
    if label is not None:
        out[LABEL_ARRAY] = label.cpu().numpy().astype(np.float16)
    return out


def build_feature_cache(model: torch.nn.Module, cfg: TrainConfig, pairs, data_root: str,
                        folder: str, progress: bool = True) -> "FeatureCache":
    """Stage (a): fill ``folder`` (see the module docstring) and return it as a dataset.

    ``pairs`` is the recipe's :class:`~stmtrack_plugin.training.pairs.TrainingPairs`.
    """
    check_cacheable(model, cfg)
    os.makedirs(folder, exist_ok=True)
    key = cache_key(model, cfg, data_root)
    manifest = _read_manifest(folder)
    if manifest is not None and not same_key(manifest.get("key"), key):
        print(f"feature cache {folder} was made with other settings or weights: rebuilding",
              flush=True)
        _remove_cache_files(folder)
        manifest = None
    draws, n_pairs = cfg.cache_draws, cfg.cache_pairs
    if manifest is not None and (int(manifest["samples"]) != n_pairs * draws
                                 or int(manifest["shard_pairs"]) != SHARD_PAIRS):
        if int(manifest["shard_pairs"]) != SHARD_PAIRS:
            _remove_cache_files(folder)
            manifest = None
        else:
            manifest = _resize_cache(folder, manifest, n_pairs)
    n_shards = -(-n_pairs // SHARD_PAIRS)
    was_training = model.training
    model.eval()
    try:
        if manifest is None:
            probe = _encode_items(model, cfg, [pairs.make_item(*pairs.draw_frames(
                np.random.default_rng([cfg.seed % (2 ** 32), CACHE_STREAM, 0])),
                np.random.default_rng(0))])
            manifest = {"key": key, "samples": n_pairs * draws, "shard_pairs": SHARD_PAIRS,
                        "draws": draws, "shards": n_shards,
                        "shapes": {k: list(v.shape[1:]) for k, v in probe.items()},
                        "dtypes": {k: str(v.dtype) for k, v in probe.items()}}
            atomic_write_text(os.path.join(folder, "manifest.json"), json.dumps(manifest, indent=1))
        todo = [s for s in range(n_shards) if not os.path.isfile(_shard_path(folder, s, "json"))]
        bar = None
        if progress and todo:
            from tqdm import tqdm

            total = sum(min(SHARD_PAIRS, n_pairs - s * SHARD_PAIRS) for s in todo) * draws
            bar = tqdm(total=total, desc="feature cache", unit="sample")
        for shard in todo:
            items = []
            for p in range(shard * SHARD_PAIRS, min((shard + 1) * SHARD_PAIRS, n_pairs)):
                seed = cfg.seed % (2 ** 32)
                loaded, negative = pairs.draw_frames(np.random.default_rng([seed, CACHE_STREAM, p]))
                items += [pairs.make_item(loaded, negative,
                                          np.random.default_rng([seed, CACHE_STREAM, p, d + 1]))
                          for d in range(draws)]
            arrays = {k: [] for k in manifest["shapes"]}
            for start in range(0, len(items), 8):
                for k, v in _encode_items(model, cfg, items[start:start + 8]).items():
                    arrays[k].append(v)
                if bar is not None:
                    bar.update(len(items[start:start + 8]))
            for k in arrays:
                _save_npy(_shard_path(folder, shard, f"{k}.npy"), np.concatenate(arrays[k]))
            atomic_write_text(_shard_path(folder, shard, "json"),
                              json.dumps({"samples": len(items)}))
        if bar is not None:
            bar.close()
    finally:
        model.train(was_training)
    return FeatureCache(folder, key)


class FeatureCache(torch.utils.data.Dataset):
    """Stage (b) data: cached sample ``i % samples`` for index ``i`` (float32 tensors).

    Item: ``memory`` (T, C, h, w), ``query`` (C, h, w), ``cls_gt``/``ctr_gt`` (k, 1),
    ``box_gt`` (k, 4). Every shard is checked against the manifest (``expected_key`` included)
    before it is used; a mismatch raises :class:`StaleCacheError`.
    """

    def __init__(self, folder: str, expected_key: dict, length: Optional[int] = None):
        self.folder, self.key = folder, expected_key
        manifest = _read_manifest(folder)
        if manifest is None or not same_key(manifest.get("key"), expected_key):
            raise StaleCacheError(f"{folder}: no feature cache for these settings and weights")
        self.samples = int(manifest["samples"])
        self.per_shard = int(manifest["shard_pairs"]) * int(manifest["draws"])
        self.length = self.samples if length is None else int(length)
        self.shards = []
        for shard in range(int(manifest["shards"])):
            expected_n = min(self.per_shard, self.samples - shard * self.per_shard)
            arrays = {}
            names = tuple(manifest["shapes"])
            if not set(ARRAYS) <= set(names) <= set(ARRAYS) | {LABEL_ARRAY}:
                raise StaleCacheError(f"{folder}: manifest lists arrays {names}")
            for k in names:
                path = _shard_path(folder, shard, f"{k}.npy")
                try:
                    arr = np.load(path, mmap_mode="r", allow_pickle=False)
                except (OSError, ValueError) as exc:
                    raise StaleCacheError(f"feature cache file {path}: {exc} (delete {folder} "
                                          "to rebuild it)") from None
                want = (expected_n, *manifest["shapes"][k])
                if arr.shape != want or str(arr.dtype) != manifest["dtypes"][k]:
                    raise StaleCacheError(f"feature cache file {path}: {arr.dtype}{arr.shape}, "
                                          f"expected {manifest['dtypes'][k]}{want} (delete "
                                          f"{folder} to rebuild it)")
                arrays[k] = arr
            self.shards.append(arrays)

    def set_epoch(self, epoch: int) -> None:
        """The cache is one fixed set of samples; epochs differ only in their order."""

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        shard, row = divmod(int(index) % self.samples, self.per_shard)
        return {k: torch.from_numpy(np.array(v[row], dtype=np.float32))
                for k, v in self.shards[shard].items()}
