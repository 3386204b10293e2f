"""Load a script of ``benchmarks/`` as a module for its tests."""
import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
#: benchmark modules other scripts import; dropped so they re-read $STMTRACK_SHARED
SHARED_MODULES = ("_bench_common", "bench_modes", "profile_stages")


def load_benchmark(name: str):
    """``benchmarks/<name>.py`` as a fresh module (its own imports found beside it)."""
    sys.path.insert(0, str(BENCHMARKS))
    for module in SHARED_MODULES:
        sys.modules.pop(module, None)
    try:
        spec = importlib.util.spec_from_file_location(f"{name}_under_test", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module
