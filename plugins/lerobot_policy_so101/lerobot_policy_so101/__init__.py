"""Imported by lerobot's ``register_third_party_plugins()``: registers so101_sim's env and policy types.

lerobot imports every installed ``lerobot_policy_*`` distribution, catches whatever the import raises and goes
on; a broken install would then surface much later as "unknown env type" / "unknown policy type". So a failed
import is logged here at ERROR, naming what is now missing and the cause, and re-raised.
"""

from so101_sim.plugin_errors import loud_import_failure

with loud_import_failure(
    __name__,
    "so101_sim.lerobot",
    "--env.type=so101/so101_sim/hub and --policy.type=so101_scripted are NOT registered",
    "Reinstall so101-sim with its LeRobot extra (pip install 'so101-sim[lerobot]')",
):
    import so101_sim.lerobot  # noqa: F401
