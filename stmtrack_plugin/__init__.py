"""stmtrack-plugin: STMTrack (Fu et al., CVPR 2021) as a pip-installable tracker.

Public entry points (imported lazily by the submodules that need torch):

* :func:`stmtrack_plugin.model.build_model` and :func:`stmtrack_plugin.model.load_checkpoint`
* :class:`stmtrack_plugin.tracking.STMTracker`
* :func:`stmtrack_plugin.config.load_parameters`
"""

__version__ = "0.1.0"
