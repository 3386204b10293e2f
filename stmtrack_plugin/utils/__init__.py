"""Small shared helpers (files, images, devices)."""
