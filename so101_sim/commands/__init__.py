"""Subcommands of ``so101-sim`` (one module each; see :mod:`so101_sim.cli`)."""
