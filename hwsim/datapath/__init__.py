"""The datapath contract: fixed-point formats (``DatapathConfig``), activation tables, the lowering
of a quantized model to a ``Plan`` and the exact cycle model. Read by the simulator, the packer and
the RTL generator alike (docs/datapath.md, docs/architecture.md)."""
