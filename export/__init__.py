"""Export: ROM packing, manifest, RTL generation."""
