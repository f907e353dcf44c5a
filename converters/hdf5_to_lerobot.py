#!/usr/bin/env python
"""Isaac Lab HDF5 demonstrations -> LeRobot v3 dataset.

    python converters/hdf5_to_lerobot.py --input demos.hdf5 --output-dir DIR --repo-id NAME [--mapping so101]

See docs/converter.md. The logic lives in :mod:`so101_sim.convert`; this script only makes the repository
importable when the package is not installed.
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    repo_root = Path(__file__).resolve().parents[1]
    if str(repo_root) not in sys.path:
        sys.path.insert(0, str(repo_root))
    from so101_sim.convert.cli import main

    sys.exit(main())
