"""The SO-101 and SO-100 arms for Isaac Lab: one :class:`RobotSpec` per arm, turned into an ``ArticulationCfg``.

The robot description is a URDF given by configuration (environment variables ``SO101_URDF`` / ``SO100_URDF``),
never a file of this repository: TheRobotStudio's URDFs are imported by Isaac Lab's URDF converter at start-up.
(Isaac Lab 2.3 also has an MJCF importer, but Menagerie's SO-101 uses MuJoCo defaults classes and collision
primitives that the importer does not carry over faithfully, so the URDF is the shared description; joint names
and ranges are the same in both.)

Servo model: both arms use Feetech STS3215 servos. The gains are Menagerie's ``sts3215`` class (identified for
LeRobot): position gain kp = 998.22 N·m/rad, velocity gain kv = 2.731 N·m·s/rad plus passive joint damping
0.60 (PhysX has one drive damping, so it gets kv + damping = 3.331), force range ±2.94 N·m, armature 0.028,
friction loss 0.052 N·m (Isaac Sim 5 models joint friction as an effort, like MuJoCo's frictionloss).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from so101_sim.adapters import JOINT_NAMES, SO101_JOINT_HIGH, SO101_JOINT_LOW

STS3215_KP = 998.22
STS3215_KV = 2.731
STS3215_JOINT_DAMPING = 0.60
STS3215_FORCE_LIMIT = 2.94
STS3215_ARMATURE = 0.028
STS3215_FRICTION_LOSS = 0.052
STS3215_VELOCITY_LIMIT = 10.0  # rad/s, the URDFs' <limit velocity>


@dataclass(frozen=True)
class RobotSpec:
    """What differs between the arms; everything else (gains, joint order) is shared."""

    name: str
    urdf_env: str  # environment variable holding the URDF path
    joint_limits: dict[str, tuple[float, float]]  # radians, enforced in the simulation at start-up
    ee_body: str  # the tool frame the tasks measure (reach target, grasp distance)
    wrist_camera_parent: str  # link the wrist camera is attached to
    gripper_open: float  # radians, the binary gripper action's "open"
    gripper_closed: float  # radians, "close" (slightly past contact with a 2.5 cm cube)
    link_aliases: dict[str, str] = field(default_factory=dict)  # SO-101 link name -> this arm's link name
    joint_names: tuple[str, ...] = JOINT_NAMES
    ee_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)  # tool frame in ee_body's frame (Menagerie: a site)
    source: str = "urdf"  # "urdf" (Isaac Lab 2.3, Isaac Sim's importer) or "menagerie_usd" (3.0, usd_asset)

    def urdf_path(self) -> str:
        """The URDF path from the environment; a clear error when unset or missing."""
        path = os.environ.get(self.urdf_env)
        if not path:
            raise FileNotFoundError(
                f"{self.urdf_env} is not set: point it at the {self.name} URDF "
                f"(e.g. export {self.urdf_env}=/path/to/{'so101_new_calib' if self.name == 'SO-101' else 'so100'}.urdf;"
                " TheRobotStudio's SO-ARM100 repository has both, with their meshes)")
        if not Path(path).is_file():
            raise FileNotFoundError(f"{self.urdf_env}={path!r}: no such URDF file")
        return path

    def link(self, name: str) -> str:
        """This arm's name for a link given by its SO-101 name (so ``gripper_link`` works for both arms)."""
        return self.link_aliases.get(name, name)

    @property
    def lower(self) -> list[float]:
        return [self.joint_limits[j][0] for j in self.joint_names]

    @property
    def upper(self) -> list[float]:
        return [self.joint_limits[j][1] for j in self.joint_names]


# Menagerie's ranges (so101_sim.adapters): the URDF's wrist_roll upper limit (2.84121) is wider than Menagerie's
# (2.7438), so the start-up event writes these limits into PhysX and both backends share the same joint space.
SO101 = RobotSpec(
    name="SO-101",
    urdf_env="SO101_URDF",
    joint_limits={j: (float(lo), float(hi)) for j, lo, hi in zip(JOINT_NAMES, SO101_JOINT_LOW, SO101_JOINT_HIGH)},
    ee_body="gripper_frame_link",
    wrist_camera_parent="gripper_link",
    gripper_open=1.2,
    gripper_closed=-0.15,
)

# TheRobotStudio's SO-100 URDF (link names base/shoulder/.../gripper/jaw); its own joint ranges.
SO100 = RobotSpec(
    name="SO-100",
    urdf_env="SO100_URDF",
    joint_limits={
        "shoulder_pan": (-2.0, 2.0),
        "shoulder_lift": (0.0, 3.5),
        "elbow_flex": (-3.14158, 0.0),
        "wrist_flex": (-2.5, 1.2),
        "wrist_roll": (-3.14158, 3.14158),
        "gripper": (-0.2, 2.0),
    },
    ee_body="gripper",
    wrist_camera_parent="gripper",
    gripper_open=1.2,
    gripper_closed=-0.15,
    link_aliases={"gripper_link": "gripper", "gripper_frame_link": "gripper", "base_link": "base",
                  "moving_jaw_so101_v1_link": "jaw"},
)

# Isaac Lab 3.0 (kit-less): Menagerie's MJCF converted to USD (so101_sim.isaac.usd_asset), the MuJoCo backend's
# robot. Its bodies keep Menagerie's names; the tool frame is Menagerie's ``gripperframe`` site on ``gripper``.
SO101_MENAGERIE = RobotSpec(
    name="SO-101",
    urdf_env="SO101_URDF",
    joint_limits=dict(SO101.joint_limits),
    ee_body="gripper",
    wrist_camera_parent="gripper",
    gripper_open=1.2,
    gripper_closed=-0.15,
    link_aliases={"gripper_link": "gripper", "gripper_frame_link": "gripper", "base_link": "base",
                  "moving_jaw_so101_v1_link": "moving_jaw_so101_v1"},
    ee_offset=(0.012, -0.000218, -0.098127),
    source="menagerie_usd",
)

ROBOTS = {"SO-101": SO101, "SO-100": SO100}
ROBOTS_30 = {"SO-101": SO101_MENAGERIE}


def robot_spec(name: str) -> RobotSpec:
    """The arm for the Isaac Lab line this process gets (2.3: URDF import; 3.0: Menagerie USD)."""
    from so101_sim.isaac.isaaclab_api import isaaclab_line

    if isaaclab_line() == "3.0":
        if name not in ROBOTS_30:
            raise ValueError(f"{name} has no Isaac Lab 3.0 (kit-less) description: only {sorted(ROBOTS_30)} is "
                             "converted from Menagerie; the SO-100 tasks run on Isaac Lab 2.3 / Isaac Sim")
        return ROBOTS_30[name]
    return ROBOTS[name]


def home_joint_pos(spec: RobotSpec) -> dict[str, float]:
    """Start pose: the MuJoCo backend's (``so101_sim.tasks.HOME_QPOS``), clipped into this arm's joint ranges."""
    from so101_sim.tasks import HOME_QPOS

    out = {}
    for j, q in zip(spec.joint_names, HOME_QPOS, strict=True):
        lo, hi = spec.joint_limits[j]
        out[j] = min(max(q, lo), hi)
    return out


def articulation_cfg(spec: RobotSpec, prim_path: str = "{ENV_REGEX_NS}/Robot"):
    """The arm as an Isaac Lab ``ArticulationCfg`` (fixed base at the env origin, STS3215 drives).

    2.3: Isaac Sim's URDF importer. 3.0: the Menagerie USD (:mod:`so101_sim.isaac.usd_asset`), simulated by MuJoCo
    Warp under Newton with the same servo model as the MuJoCo backend (Menagerie's ``sts3215`` class).
    """
    from so101_sim.isaac.isaaclab_api import il, quat_cfg

    damping = STS3215_KV + STS3215_JOINT_DAMPING
    if spec.source == "menagerie_usd":
        from so101_sim.isaac.usd_asset import so101_usd

        return il.ArticulationCfg(
            prim_path=prim_path,
            spawn=il.UsdFileCfg(usd_path=str(so101_usd())),
            init_state=il.ArticulationCfg.InitialStateCfg(
                pos=(0.0, 0.0, 0.0), rot=quat_cfg((1.0, 0.0, 0.0, 0.0)), joint_pos=home_joint_pos(spec),
                joint_vel={".*": 0.0}),
            actuators={
                # damping=0: Newton's MuJoCo solver turns an implicit actuator into a force-limited position
                # actuator (kp) plus a separate velocity actuator (kd) with NO force limit. Menagerie's servo
                # limits kp*e - kv*qd together to +-2.94 N m; with kd = kv + joint damping outside the limit,
                # the jaw closes at ~0.75 rad/s instead of ~5 and the expert lifts 3 mm instead of 100 (measured,
                # benchmarks/bench_isaac.py replay). Without kd, the joint's own damping 0.60 (from the USD) is
                # what MuJoCo has besides the servo; the lift then matches (docs/isaac.md).
                "sts3215": il.ImplicitActuatorCfg(
                    joint_names_expr=list(spec.joint_names), stiffness=STS3215_KP, damping=0.0,
                    joint_effort_limit=STS3215_FORCE_LIMIT, joint_velocity_limit=STS3215_VELOCITY_LIMIT,
                    armature=STS3215_ARMATURE, friction=STS3215_FRICTION_LOSS)
            },
            soft_joint_pos_limit_factor=1.0,
        )
    return il.ArticulationCfg(
        prim_path=prim_path,
        spawn=il.UrdfFileCfg(
            asset_path=spec.urdf_path(),
            fix_base=True,
            merge_fixed_joints=False,  # keep gripper_frame_link (the tool frame) as its own body
            activate_contact_sensors=False,
            joint_drive=il.UrdfConverterCfg.JointDriveCfg(
                drive_type="force",
                target_type="position",
                gains=il.UrdfConverterCfg.JointDriveCfg.PDGainsCfg(stiffness=STS3215_KP, damping=damping),
            ),
            rigid_props=il.RigidBodyPropertiesCfg(disable_gravity=False, max_depenetration_velocity=5.0),
            articulation_props=il.ArticulationRootPropertiesCfg(
                enabled_self_collisions=False, solver_position_iteration_count=8, solver_velocity_iteration_count=1
            ),
        ),
        init_state=il.ArticulationCfg.InitialStateCfg(
            pos=(0.0, 0.0, 0.0), rot=(1.0, 0.0, 0.0, 0.0), joint_pos=home_joint_pos(spec),
            joint_vel={".*": 0.0},
        ),
        actuators={
            "sts3215": il.ImplicitActuatorCfg(
                joint_names_expr=list(spec.joint_names),
                stiffness=STS3215_KP,
                damping=damping,
                effort_limit_sim=STS3215_FORCE_LIMIT,
                velocity_limit_sim=STS3215_VELOCITY_LIMIT,
                armature=STS3215_ARMATURE,
                friction=STS3215_FRICTION_LOSS,
            )
        },
        soft_joint_pos_limit_factor=1.0,
    )
