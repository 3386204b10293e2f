"""Batched multi-sequence tracking (``stmtrack eval --batch K``): masked memory read, lockstep
steps equal per-sequence runs, the runner's slots, results and resume, the CLI's refusals."""
import numpy as np
import pytest
import torch

from stmtrack_plugin.adapters.layouts import OPELayout
from stmtrack_plugin.adapters.lockstep import LockstepGroup
from stmtrack_plugin.adapters.runner import Job, run_jobs
from stmtrack_plugin.config import load_parameters
from stmtrack_plugin.model import build_model
from stmtrack_plugin.model.head import memory_read
from stmtrack_plugin.model.inference import prepare_for_inference
from stmtrack_plugin.model.random_weights import randomize_model
from stmtrack_plugin.tracking import STMTracker
from stmtrack_plugin.tracking import batch as batch_mod
from stmtrack_plugin.tracking.batch import pad_memories, track_step, tracker_like
from stmtrack_plugin.utils.io import read_image_bgr
from stmtrack_plugin.utils.sequences import load_otb_sequence

CPU = torch.device("cpu")
#: three real clips of different lengths (frames incl. the init frame)
CLIPS = {"Crossing": 14, "bag": 9, "Couple": 11}
TOL_PX = 1e-4


@pytest.fixture(scope="module")
def clips(sequences_dir):
    out = {}
    for name, n in CLIPS.items():
        seq = load_otb_sequence(str(sequences_dir / name))
        out[name] = (tuple(seq.frames[:n]), np.asarray(seq.groundtruth[:n], dtype=np.float64))
    return out


@pytest.fixture(scope="module")
def tiny_tracker(tiny_model_config):
    """The eval path's model: seeded random weights, prepared for inference (BN folded, packed
    oneDNN convs), as ``stmtrack eval`` builds it."""
    torch.manual_seed(0)
    model = prepare_for_inference(randomize_model(build_model(tiny_model_config), seed=0).eval())
    params = load_parameters("otb", crop_size=129, model=tiny_model_config)
    return STMTracker(model, params, device=CPU)


def _sequential(tracker, clips):
    out = {}
    for name, (frames, gt) in clips.items():
        t = tracker_like(tracker)
        t.initialize(read_image_bgr(frames[0]), gt[0])
        out[name] = [t.track(read_image_bgr(f)) for f in frames[1:]]
    return out


def test_masked_read_equals_the_read_of_the_real_frames_only():
    torch.manual_seed(0)
    fm = torch.randn(2, 8, 5, 3, 3)
    fq = torch.randn(2, 8, 3, 3)
    mask = torch.tensor([[True] * 3 + [False] * 2, [True] * 5])
    fm_garbage = fm.clone()
    fm_garbage[0, :, 3:] = 1e3  # padded frames: their content must not matter
    out = memory_read(fm_garbage, fq, memory_mask=mask)
    assert torch.allclose(out[0:1], memory_read(fm[0:1, :, :3], fq[0:1]), atol=1e-6)
    assert torch.allclose(out[1:2], memory_read(fm[1:2], fq[1:2]), atol=1e-6)
    # no mask: the authors' path, bit for bit what it was
    assert torch.equal(memory_read(fm, fq), memory_read(fm, fq, None))
    with pytest.raises(ValueError, match="memory_mask"):
        memory_read(fm, fq, memory_mask=mask[:, :4])
    with pytest.raises(ValueError, match="no memory frame"):
        memory_read(fm, fq, memory_mask=torch.zeros(2, 5, dtype=torch.bool))


def test_pad_memories_pads_with_zeros_and_marks_real_frames_on_the_device():
    memories = [torch.ones(1, 4, t, 2, 2, device=CPU) for t in (3, 5, 1)]
    memory, mask = pad_memories(memories)
    assert memory.shape == (3, 4, 5, 2, 2) and memory.device == CPU and mask.device == CPU
    assert mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5, [True] + [False] * 4]
    assert torch.equal(memory.sum(dim=(1, 3, 4)), 16 * mask.float())


def test_lockstep_steps_with_refill_equal_per_sequence_runs(tiny_tracker, clips, monkeypatch):
    """K=2 over 3 clips (the third takes the first free slot, so memory counts differ and the
    padded, masked read runs), then K=3 (the batch shrinks as clips end)."""
    expected = _sequential(tiny_tracker, clips)
    padded = []
    real_pad = batch_mod.pad_memories
    monkeypatch.setattr(batch_mod, "pad_memories",
                        lambda memories: padded.append(len(memories)) or real_pad(memories))
    for k in (2, 3):
        slots = [tracker_like(tiny_tracker) for _ in range(k)]
        waiting = list(clips.items())
        active = {}  # slot -> (name, frames, next frame index, results)
        while waiting or active:
            for i in range(k):  # fill free slots: initialize (no network call)
                if i not in active and waiting:
                    name, (frames, gt) = waiting.pop(0)
                    slots[i].initialize(read_image_bgr(frames[0]), gt[0])
                    active[i] = (name, frames, 1, [])
            order = sorted(active)
            steps = [slots[i].prepare_step(read_image_bgr(active[i][1][active[i][2]]))
                     for i in order]
            results = track_step([slots[i] for i in order], steps)
            for i, r in zip(order, results):
                name, frames, f, done = active[i]
                done.append(r)
                active[i] = (name, frames, f + 1, done)
                if f + 1 == len(frames):
                    del active[i]
                    for a, b in zip(done, expected[name]):
                        assert np.max(np.abs(np.subtract(a.box, b.box))) <= TOL_PX, name
                        assert a.memory_frames == b.memory_frames and a.gate == b.gate
                    assert len(done) == len(expected[name])
    assert padded, "the masked (padded) memory read never ran"


def test_batched_trackers_must_share_model_and_params(tiny_tracker, tiny_model_config):
    other = STMTracker(tiny_tracker.model, load_parameters("otb", crop_size=161,
                                                           model=tiny_model_config))
    with pytest.raises(ValueError, match="share one model"):
        track_step([tiny_tracker, other], [None, None])


def _jobs(clips, root):
    layout = OPELayout(str(root))
    return [Job(name, frames, gt, layout) for name, (frames, gt) in clips.items()]


def test_runner_batch_writes_the_same_results_and_resumes(tiny_tracker, clips, tmp_path,
                                                          monkeypatch):
    def factory():
        return tracker_like(tiny_tracker)

    sizes = []
    real_step = LockstepGroup._run_if_complete

    def spy(self):
        before = len(self.batch_sizes)
        real_step(self)
        sizes.extend(self.batch_sizes[before:])

    monkeypatch.setattr(LockstepGroup, "_run_if_complete", spy)
    one = run_jobs(factory, _jobs(clips, tmp_path / "b1"), progress=False)
    two = run_jobs(factory, _jobs(clips, tmp_path / "b2"), progress=False, batch=2)
    assert one.ok and two.ok and sorted(two.finished) == sorted(clips)
    # no idle slot while a sequence waits: Couple takes bag's slot as soon as bag ends, so the
    # batch is 2 until Crossing (13 tracked frames) ends, then Couple runs its last 5 alone
    assert sizes == [2] * 13 + [1] * 5
    for name in clips:
        a = np.loadtxt(tmp_path / "b1" / f"{name}.txt", delimiter=",")
        b = np.loadtxt(tmp_path / "b2" / f"{name}.txt", delimiter=",")
        assert a.shape == b.shape == (CLIPS[name], 4)
        assert np.max(np.abs(a - b)) <= 1e-3  # files hold 4 decimals
        assert (tmp_path / "b2" / ".stmtrack" / f"{name}.json").is_file()
    again = run_jobs(factory, _jobs(clips, tmp_path / "b2"), progress=False, batch=2)
    assert again.finished == [] and sorted(again.skipped) == sorted(clips)


def test_lanes_step_independently_on_their_share_of_the_threads(tiny_tracker, clips, tmp_path,
                                                                monkeypatch):
    """--batch 4 --lanes 2 over 3 clips: slots 0 and 2 (Crossing, then Couple) form one lane,
    slot 1 (bag) the other; results equal the --batch 1 run's; each lane gets 2 // 2 threads."""
    from stmtrack_plugin.adapters import runner

    def factory():
        return tracker_like(tiny_tracker)

    sizes, threads = [], []
    real_step, real_set = LockstepGroup._run_if_complete, runner._set_threads

    def spy(self):
        before = len(self.batch_sizes)
        real_step(self)
        sizes.extend(self.batch_sizes[before:])

    monkeypatch.setattr(LockstepGroup, "_run_if_complete", spy)
    monkeypatch.setattr(runner, "_set_threads", lambda n: threads.append(n) or real_set(n))
    one = run_jobs(factory, _jobs(clips, tmp_path / "l1"), progress=False)
    lanes = run_jobs(factory, _jobs(clips, tmp_path / "l2"), progress=False, batch=4, lanes=2,
                     threads_per_worker=2)
    assert one.ok and lanes.ok and sorted(lanes.finished) == sorted(clips)
    # lane 0: Crossing (13 tracked frames) beside Couple (10), then Crossing alone; lane 1: bag
    assert sorted(sizes) == sorted([2] * 10 + [1] * 3 + [1] * 8)
    assert threads[-1] == 1
    for name in clips:
        a = np.loadtxt(tmp_path / "l1" / f"{name}.txt", delimiter=",")
        b = np.loadtxt(tmp_path / "l2" / f"{name}.txt", delimiter=",")
        assert a.shape == b.shape and np.max(np.abs(a - b)) <= 1e-3  # files hold 4 decimals
    with pytest.raises(ValueError, match="--lanes must be between 1 and --batch"):
        run_jobs(factory, _jobs(clips, tmp_path / "l3"), progress=False, batch=2, lanes=3)
    from stmtrack_plugin.adapters.lockstep import run_lockstep
    with pytest.raises(ValueError, match="lanes must be"):
        run_lockstep(tiny_tracker, [], 2, None, None, lanes=0)


def test_runner_refuses_batch_with_workers_or_a_non_stmtrack_tracker(clips, tmp_path):
    from toolkit_helpers import make_template_tracker

    with pytest.raises(ValueError, match="--workers 1"):
        run_jobs(make_template_tracker, _jobs(clips, tmp_path / "w"), workers=2, batch=2,
                 progress=False)
    with pytest.raises(ValueError, match="stmtrack tracker"):
        run_jobs(make_template_tracker, _jobs(clips, tmp_path / "t"), batch=2, progress=False)


@pytest.mark.parametrize("extra, message", [(["--workers", "2"], "--workers 1"),
                                            (["--tracker", "kcf"], "--tracker stmtrack"),
                                            (["--batch", "0"], ">= 1"),
                                            (["--lanes", "3"], "--lanes must be between 1")])
def test_cli_refuses_batch_it_cannot_honour(tmp_path, capsys, extra, message):
    from stmtrack_plugin.cli.main import main

    argv = ["eval", "--benchmark", "otb", "--root", str(tmp_path), "--results",
            str(tmp_path / "r"), "--batch", "2"] + extra
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_failing_sequence_is_reported_and_the_others_go_on(tiny_tracker, clips, tmp_path):
    jobs = _jobs(clips, tmp_path / "r")
    frames, gt = clips["bag"]
    broken = frames[:4] + clips["Crossing"][0][4:6] + frames[6:]  # frame size changes
    jobs[1] = Job("bag", broken, gt, jobs[1].layout)
    summary = run_jobs(lambda: tracker_like(tiny_tracker), jobs, progress=False, batch=3)
    assert sorted(summary.finished) == ["Couple", "Crossing"]
    assert list(summary.failed) == ["bag"] and "frame size changed" in summary.failed["bag"]
    assert not (tmp_path / "r" / "bag.txt").exists()


def test_cli_eval_batch_matches_batch_1_resumes_and_shards(tmp_path, sequences_dir, capsys):
    from stmtrack_plugin.cli.main import main
    from toolkit_helpers import served_tracker, truncated_otb_copy

    root = tmp_path / "OTB100"
    for name, n in (("Crossing", 7), ("Jogging-1", 4), ("bag", 6)):
        truncated_otb_copy(sequences_dir / name, root, n)
    tracker = served_tracker(tmp_path)

    def run(results, *extra):
        return main(["eval", "--toolkit", "pysot", "--dataset", "OTB100", "--root", str(root),
                     "--results", str(tmp_path / results), "--quiet", "--threads", "1",
                     "--device", "cpu", "--params", tracker.params, "--weights",
                     tracker.weights] + list(extra))

    assert run("one") == 0 and run("two", "--batch", "2") == 0
    assert "3 sequence(s) run, 0 skipped" in capsys.readouterr().out
    for name in ("Crossing", "Jogging-1", "bag"):
        a, b = (np.loadtxt(tmp_path / d / "OTB100" / "STMTrack" / f"{name}.txt", delimiter=",")
                for d in ("one", "two"))
        assert a.shape == b.shape and np.max(np.abs(a - b)) <= 1e-3  # 4 decimals in the files
    assert run("one", "--batch", "3") == 0  # same tracker and settings: resumed, not redone
    assert "0 sequence(s) run, 3 skipped" in capsys.readouterr().out
    assert run("shard", "--batch", "2", "--shard", "0/2") == 0
    assert len(list((tmp_path / "shard" / "OTB100" / "STMTrack").glob("*.txt"))) == 2
