"""RLinf integration (optional extra ``so101-sim[rlinf]``): the SO-101 sim and our flow-noise policies as RLinf
extensions. ``RLINF_EXT_MODULE=so101_sim.rlinf.ext``; CLIs in :mod:`so101_sim.commands.rlinf`; docs/rlinf.md.

Importing this package imports nothing from RLinf; :mod:`.env`, :mod:`.policy` and :mod:`.ext` do.
"""
