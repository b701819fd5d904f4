"""The whole flow in one call (``run_flow`` / ``run_demo``): check, export, co-simulate,
synthesize and report, as ``scripts/demo.sh`` runs it."""
