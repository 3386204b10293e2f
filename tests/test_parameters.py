"""The parameter files: every one loads, holds exactly the values of STMTRACK_SPEC.md §2.1,
and overrides work by name (unknown names are errors)."""
import dataclasses

import pytest

from stmtrack_plugin.config import ModelConfig, TrackerParams, available_parameters, load_parameters

SEARCHED_OTB = dict(test_lr=0.5501132208837838, window_influence=0.20534968836733386,
                    penalty_k=0.07592315864890313, search_area_factor=4.0)
SEARCHED_UAV = dict(test_lr=0.5405424265010361, window_influence=0.20298940424940976,
                    penalty_k=0.07067416478817143, search_area_factor=4.171677449782462)
SEARCHED_VOT = dict(test_lr=0.9629084797864664, window_influence=0.2674225347735762,
                    penalty_k=0.04120782242066555, search_area_factor=4.056291055280747)
GOT = dict(test_lr=0.95, window_influence=0.21, penalty_k=0.04, search_area_factor=4.0)

#: SPEC §2.1, one row per authors' test yaml (+ default = got10k)
EXPECTED = {
    "default": dict(GOT, confidence_threshold=0.6),
    "got10k": dict(GOT, confidence_threshold=0.6),
    "lasot": dict(GOT, confidence_threshold=0.6),  # the yaml's GOT-only model
    "trackingnet": dict(GOT, confidence_threshold=0.6),
    "otb": dict(SEARCHED_OTB, confidence_threshold=0.6),
    "uav123": dict(SEARCHED_UAV, confidence_threshold=0.6),
    "vot2018": dict(SEARCHED_VOT, confidence_threshold=0.0),
}
#: common to every test yaml (and code defaults not in the yamls)
COMMON = dict(num_segments=4, min_w=10, min_h=10, crop_size=289, total_stride=8,
              storage_dtype="float32", max_memory_frames=None,
              offload_after=None)


def test_every_setting_is_shipped():
    assert set(EXPECTED) <= set(available_parameters())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_values_equal_the_spec_exactly(name):
    params = load_parameters(name)
    assert isinstance(params, TrackerParams) and params.name == name
    for key, value in {**COMMON, **EXPECTED[name]}.items():
        assert getattr(params, key) == value, key  # exact: these are the yamls' literals
    assert params.model == ModelConfig()  # the authors' GoogLeNet model


def test_default_is_got10k():
    assert dataclasses.replace(load_parameters("default"), name="got10k") == load_parameters("got10k")


def test_parameter_files_hold_no_machine_paths():
    for name in available_parameters():
        for value in dataclasses.asdict(load_parameters(name)).values():
            assert not (isinstance(value, str) and ("/" in value or "\\" in value)), (name, value)


def test_override_by_name_and_frozen():
    params = load_parameters("otb", window_influence=0.3, confidence_threshold=0.5)
    assert params.window_influence == 0.3 and params.confidence_threshold == 0.5
    assert params.test_lr == SEARCHED_OTB["test_lr"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.test_lr = 1.0  # type: ignore[misc]
    nested = load_parameters("default", model={"width_mult": 0.125})
    assert nested.model.width_mult == 0.125 and nested.model.neck_channels == 512


def test_no_informational_or_single_value_fields():
    """No labels that change nothing (``checkpoint``: which released model the authors used is
    in each file's docstring instead) and no one-value choices (``windowing``)."""
    names = {f.name for f in dataclasses.fields(TrackerParams)}
    assert not names & {"checkpoint", "windowing"}
    with pytest.raises(KeyError, match="unknown TrackerParams key.*windowing"):
        load_parameters("default", windowing="cosine")


def test_unknown_key_is_an_error():
    with pytest.raises(KeyError, match="unknown TrackerParams key.*window_influnce"):
        load_parameters("default", window_influnce=0.3)
    with pytest.raises(KeyError, match="unknown ModelConfig key"):
        load_parameters("default", model={"widht_mult": 0.5})


def test_unknown_setting_is_an_error():
    with pytest.raises(KeyError, match="no parameter file named 'otb2015'"):
        load_parameters("otb2015")


def test_invalid_values_are_refused():
    with pytest.raises(ValueError, match="storage_dtype"):
        load_parameters("default", storage_dtype="int8")
    with pytest.raises(ValueError, match="num_segments"):
        load_parameters("default", num_segments=0)


def test_parameters_from_a_file(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("from stmtrack_plugin.config import load_parameters\n"
                    "def parameters():\n    return load_parameters('vot2018', test_lr=0.5)\n")
    params = load_parameters(str(path))
    assert params.test_lr == 0.5 and params.confidence_threshold == 0.0


@pytest.mark.parametrize("key,value,match", [
    ("window_influence", "abc", r"TrackerParams\.window_influence must be float, got 'abc'"),
    ("window_influence", float("nan"), r"window_influence must be finite"),
    ("test_lr", float("inf"), r"test_lr must be finite"),
    ("penalty_k", float("-inf"), r"penalty_k must be finite"),
    ("window_influence", 1.5, r"window_influence = 1\.5 is outside \[0\.0, 1\.0\]"),
    ("test_lr", -0.1, r"test_lr = -0\.1 is outside"),
    ("min_w", -1.0, r"min_w = -1\.0 is outside"),
    ("crop_size", 129.5, r"crop_size must be int"),
    ("crop_size", True, r"crop_size must be int"),
    ("crop_size", 100000, r"crop_size = 100000 is outside"),
    ("num_segments", "4", r"num_segments must be int"),
    ("offload_after", -3, r"offload_after = -3 is outside"),
    ("confidence_threshold", float("nan"), r"confidence_threshold must be finite"),
])
def test_parameter_values_are_checked_at_construction(key, value, match):
    with pytest.raises(ValueError, match=match):
        load_parameters("default", **{key: value})


def test_numpy_numbers_and_none_are_accepted():
    import numpy as np

    params = load_parameters("default", window_influence=np.float32(0.3), crop_size=np.int64(129),
                             offload_after=None, max_memory_frames=None)
    assert params.crop_size == 129 and params.offload_after is None
