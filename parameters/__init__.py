"""Parameter files, one per benchmark setting (installed as ``stmtrack_plugin.parameters``).

Tracker settings (each defines ``parameters() -> TrackerParams``), values from the authors' test
yamls (STMTRACK_SPEC.md §2.1): ``default`` (= got10k), ``got10k``, ``lasot``, ``trackingnet``,
``otb``, ``uav123``, ``vot2018``, and ``lite`` (the built-in STMTrack-Lite model's).
Load them with ``stmtrack_plugin.config.load_parameters(name)``.
Training recipes (``train_*``) define ``recipe() -> TrainConfig``.
"""
