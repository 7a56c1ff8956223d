"""The embedded image-text pool: sources, rendering, captions, eval sets, and the build."""
