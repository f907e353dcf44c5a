import sys

from so101_sim.convert.cli import main

sys.exit(main())
