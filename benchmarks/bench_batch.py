"""Batched vs sequential tracking speed (``stmtrack eval --batch K``): frames/s for K sequences.

  python benchmarks/bench_batch.py --frames 20                  # lite and full model, K 1 2 4 8
  python benchmarks/bench_batch.py --models lite --frames 60 --threads 2 --device cpu
  python benchmarks/bench_batch.py --models lite --ks 8 --threads 2 --parallel-stages --repeats 3

For each model and K, the first K sequences of a fixed list of shared sequences (first N frames
each, decoded before timing) are tracked twice with the same seeded random weights:

* sequential: one :class:`STMTracker` per sequence, one after the other (``--batch 1``);
* batched: K trackers in lockstep, one :func:`~stmtrack_plugin.tracking.batch.track_step` per
  frame step (one batched ``memorize`` + one batched ``track``), as ``--batch K`` runs them.

* with ``--lanes L`` the batched runs deal the K sequences to L lanes that step at once, each on
  its own thread, on ``max(1, threads // L)`` torch threads (``stmtrack eval --lanes L``);
* with ``--parallel-stages`` the batched runs use ``parallel_stages=true`` (query encoder beside
  the memory side, box tower beside the class tower) on half a lane's torch threads (at least
  1) per stage thread, so they use ``--threads`` cores; the sequential runs stay the default
  tracker;
* with ``--workers W`` also **processes**: the K sequences dealt round-robin to W processes
  (``--workers W`` of ``stmtrack eval``), each with ``max(1, threads // W)`` torch threads,
  tracking one sequence after another; started together, frames/s = all tracked frames / the
  wall time from the first process's start of tracking to the last one's end.

Printed per K: median ms per tracked frame (sequential: of the ``track`` calls; batched: of
step time / K), frames/s (tracked frames / total tracking time; init frames excluded) and minor
page faults per tracked frame (the process's, from ``getrusage``); with ``--repeats R`` the runs
alternate R times and the fastest round of each is shown. ``--malloc keep`` (the default) sets
glibc's malloc as ``stmtrack eval --batch K`` does (:mod:`stmtrack_plugin.allocator`) for the
whole main process, sequential runs included; ``--malloc default`` leaves it alone, to see the
difference. The ``--workers`` processes never change it (``eval --workers`` does not). Models:
"lite" = efficientnet_lite0 trunk, neck 256, head 128, crop 225; "full" = the authors' default
GoogLeNet model, crop 289; both random weights (speed only), prepared for inference as ``eval``
prepares them. OMP_WAIT_POLICY=PASSIVE is set before torch loads (see stmtrack_plugin.threads).
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("STMTRACK_SHARED", os.path.join(HERE, "..", "..", "shared"))
#: the fixed sequence list (K takes the first K)
SEQUENCES = ("Crossing", "Couple", "bag", "Car4", "Jogging-1", "uav_boat1", "uav_person12_1",
             "TLP_Bike")


def build_tracker(kind: str, device: str, parallel_stages: bool = False):
    import dataclasses

    import torch

    from stmtrack_plugin.config import ModelConfig, load_parameters
    from stmtrack_plugin.model import build_model
    from stmtrack_plugin.model.inference import prepare_for_inference
    from stmtrack_plugin.model.trunks import model_config_for
    from stmtrack_plugin.tracking import STMTracker

    if kind == "lite":
        config, crop = model_config_for("efficientnet_lite0", neck_channels=256,
                                        head_channels=128), 225
    else:
        config, crop = ModelConfig(), 289
    torch.manual_seed(0)
    model = prepare_for_inference(build_model(config).to(device).eval())
    params = load_parameters("otb", crop_size=crop, model=config)
    return STMTracker(model, dataclasses.replace(params, parallel_stages=parallel_stages),
                      device=device)


def load_clips(n_frames: int, count: int):
    from stmtrack_plugin.utils.io import read_image_bgr
    from stmtrack_plugin.utils.sequences import load_otb_sequence

    clips = []
    for name in SEQUENCES[:count]:
        seq = load_otb_sequence(os.path.join(SHARED, "data", "sequences", name))
        clips.append(([read_image_bgr(f) for f in seq.frames[:n_frames]], seq.groundtruth[0]))
    return clips


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def sequential(lead, clips):
    """(median ms per frame, frames/s, minor page faults per frame) of one tracker per clip."""
    from stmtrack_plugin.tracking.batch import tracker_like

    times, faults = [], 0
    for frames, box in clips:
        tracker = tracker_like(lead)
        tracker.initialize(frames[0], box)
        for image in frames[1:]:
            before, start = minor_faults(), time.perf_counter()
            tracker.track(image)
            times.append(time.perf_counter() - start)
            faults += minor_faults() - before
    return statistics.median(times) * 1e3, len(times) / sum(times), faults / len(times)


def batched(lead, clips, threads=None, lanes=1):
    """(median ms per frame, frames/s, minor page faults per frame) of lockstep steps, run with
    ``threads`` torch threads (None: as set; the setting is restored after). With ``lanes`` L
    the clips are dealt round-robin to L lanes stepping at once on their own threads, as
    ``--batch K --lanes L`` runs them; then ms per frame is the lanes' median step time per
    frame / L, and frames/s and faults count all lanes over the wall time."""
    import threading

    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        if lanes == 1:
            return _batched(lead, clips)
        out = [None] * lanes

        def lane(i):
            out[i] = _batched(lead, clips[i::lanes])

        workers = [threading.Thread(target=lane, args=(i,)) for i in range(lanes)]
        before, start = minor_faults(), time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        seconds, faults = time.perf_counter() - start, minor_faults() - before
        count = sum(len(clips[i::lanes]) for i in range(lanes)) * (
            min(len(frames) for frames, _ in clips) - 1)
        return statistics.median(r[0] for r in out) / lanes, count / seconds, faults / count
    finally:
        torch.set_num_threads(previous)


def _batched(lead, clips):
    from stmtrack_plugin.tracking.batch import track_step, tracker_like

    trackers = [tracker_like(lead) for _ in clips]
    for tracker, (frames, box) in zip(trackers, clips):
        tracker.initialize(frames[0], box)
    per_frame, total, count, faults = [], 0.0, 0, 0
    for f in range(1, min(len(frames) for frames, _ in clips)):
        before, start = minor_faults(), time.perf_counter()
        steps = [t.prepare_step(frames[f]) for t, (frames, _) in zip(trackers, clips)]
        track_step(trackers, steps)
        seconds = time.perf_counter() - start
        faults += minor_faults() - before
        per_frame.append(seconds / len(clips))
        total, count = total + seconds, count + len(clips)
    return statistics.median(per_frame) * 1e3, count / total, faults / count


def process_share(kind, device, threads, frames, indices, barrier, results):
    """One ``--workers`` process: build, warm up, wait at ``barrier`` for the others, then track
    clips ``indices`` one after another; puts (frames tracked, start, end) on ``results``."""
    import torch

    torch.set_num_threads(threads)
    lead = build_tracker(kind, device)
    clips = load_clips(frames, max(indices) + 1)
    clips = [clips[i] for i in indices]
    sequential(lead, [(fr[:3], box) for fr, box in clips[:1]])  # warm-up, as in the main process
    barrier.wait()
    start = time.time()
    sequential(lead, clips)
    results.put((sum(len(fr) - 1 for fr, _ in clips), start, time.time()))


def in_processes(kind, device, threads, frames, k, workers):
    """Frames/s of K sequences tracked by ``workers`` processes (see the module docstring)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # no fork after torch's thread pools started
    shares = [s for s in (list(range(w, k, workers)) for w in range(workers)) if s]
    barrier, results = ctx.Barrier(len(shares)), ctx.Queue()
    procs = [ctx.Process(target=process_share, args=(kind, device, max(1, threads // workers),
                                                     frames, s, barrier, results))
             for s in shares]
    for proc in procs:
        proc.start()
    out = [results.get(timeout=3600) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise RuntimeError(f"a --workers process failed (exit code {proc.exitcode})")
    count = sum(n for n, _, _ in out)
    return count / (max(e for _, _, e in out) - min(s for _, s, _ in out))


def machine_info(device: str, malloc: str) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"cpu: {cpu}; {os.cpu_count()} cores; load avg {load:.2f}; torch {torch.__version__}; "
            f"torch threads {torch.get_num_threads()}; OMP_WAIT_POLICY="
            f"{os.environ.get('OMP_WAIT_POLICY')}; OMP_NUM_THREADS="
            f"{os.environ.get('OMP_NUM_THREADS')}; device {device}; python "
            f"{platform.python_version()}; malloc {malloc}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=20, help="first N frames of each sequence")
    p.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--models", nargs="+", choices=("lite", "full"), default=["lite", "full"])
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=0, help="also time W processes tracking the "
                   "K sequences in parallel (stmtrack eval --workers W); 0: skip")
    p.add_argument("--malloc", choices=("keep", "default"), default="keep",
                   help="keep: glibc keeps freed memory for reuse, as stmtrack eval --batch sets "
                   "it (stmtrack_plugin.allocator); default: glibc's own settings")
    p.add_argument("--lanes", type=int, default=1, help="batched runs in L lanes stepping at "
                   "once (stmtrack eval --batch K --lanes L), max(1, threads // L) torch threads "
                   "in all; K must be >= L")
    p.add_argument("--parallel-stages", action="store_true", help="batched runs with "
                   "parallel_stages=true (two stage threads) on max(1, threads // 2) torch "
                   "threads each, against the default sequential tracker on --threads")
    p.add_argument("--repeats", type=int, default=1, help="rounds of sequential + batched per "
                   "K; the fastest round of each is printed (for machines with other load)")
    args = p.parse_args(argv)
    if max(args.ks) > len(SEQUENCES) or args.frames < 2:
        p.error(f"K <= {len(SEQUENCES)} and --frames >= 2")
    import torch

    from stmtrack_plugin.allocator import keep_freed_memory

    malloc = "glibc default"
    if args.malloc == "keep":
        malloc = ("freed memory kept (mmap/trim threshold 1 GiB)" if keep_freed_memory()
                  else "not glibc: unchanged")
    torch.set_num_threads(args.threads)
    print(machine_info(args.device, malloc))
    clips = load_clips(args.frames, max(args.ks))
    for kind in args.models:
        lead = build_tracker(kind, args.device)
        lead_b, threads_b = lead, max(1, args.threads // args.lanes)
        if args.parallel_stages:
            lead_b = build_tracker(kind, args.device, parallel_stages=True)
            threads_b = max(1, threads_b // 2)
        batched(lead_b, [(frames[:3], box) for frames, box in clips[:1]], threads_b)  # warm-up
        sequential(lead, [(frames[:3], box) for frames, box in clips[:1]])
        if args.parallel_stages or args.lanes > 1:
            print(f"batched: {args.lanes} lane(s), "
                  f"{'parallel_stages, ' if args.parallel_stages else ''}{threads_b} torch "
                  f"thread(s); sequential: default tracker on {args.threads}")
        print(f"\nmodel {kind}: {args.frames} frames per sequence")
        procs = (f" {str(args.workers) + ' procs fps':>14} {'speed-up':>9}"
                 if args.workers else "")
        print(f"{'K':>3} {'seq ms/frame':>13} {'seq fps':>9} {'faults/fr':>9} "
              f"{'batch ms/frame':>15} {'batch fps':>10} {'faults/fr':>9} {'speed-up':>9}{procs}")
        for k in args.ks:
            lanes = min(args.lanes, k)
            batched(lead_b, [(fr[:2], box) for fr, box in clips[:k]], threads_b, lanes)  # pack K
            rounds = [(sequential(lead, clips[:k]), batched(lead_b, clips[:k], threads_b, lanes))
                      for _ in range(args.repeats)]  # interleaved: load drifts hit both
            (seq_ms, seq_fps, seq_flt), (bat_ms, bat_fps, bat_flt) = (
                max((r[i] for r in rounds), key=lambda m: m[1]) for i in (0, 1))
            line = (f"{k:>3} {seq_ms:>13.1f} {seq_fps:>9.2f} {seq_flt:>9.0f} {bat_ms:>15.1f} "
                    f"{bat_fps:>10.2f} {bat_flt:>9.0f} {bat_fps / seq_fps:>8.2f}x")
            if args.workers:
                proc_fps = max(in_processes(kind, args.device, args.threads, args.frames, k,
                                            args.workers) for _ in range(args.repeats))
                line += f" {proc_fps:>14.2f} {proc_fps / seq_fps:>8.2f}x"
            print(line)
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
