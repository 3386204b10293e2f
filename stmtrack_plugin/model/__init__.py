"""The STMTrack network (stateless ``nn.Module`` s), its builder and checkpoint I/O."""
