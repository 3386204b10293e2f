"""Default tracker setting: the GOT-10k test values (authors' yaml test/got10k)."""
import dataclasses

from stmtrack_plugin.config import TrackerParams
from stmtrack_plugin.parameters import got10k


def parameters() -> TrackerParams:
    return dataclasses.replace(got10k.parameters(), name="default")
