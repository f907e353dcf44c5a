"""Isaac Lab HDF5 demonstrations -> LeRobot v3 datasets (see docs/converter.md).

The command line is ``python converters/hdf5_to_lerobot.py`` (or ``python -m so101_sim.convert``); the same
thing from Python::

    from so101_sim.convert import ConvertOptions, convert, load_mapping
    report = convert(ConvertOptions(input=Path("demos.hdf5"), output_dir=Path("out"), repo_id="local/demos",
                                    mapping=load_mapping("franka_tactile")))
"""

from so101_sim.convert.converter import ConversionReport, ConvertOptions, DemoOutcome, convert
from so101_sim.convert.errors import ConversionError, DemoError
from so101_sim.convert.mapping import Mapping, load_mapping, parse_mapping

__all__ = [
    "ConversionError",
    "ConversionReport",
    "ConvertOptions",
    "DemoError",
    "DemoOutcome",
    "Mapping",
    "convert",
    "load_mapping",
    "parse_mapping",
]
