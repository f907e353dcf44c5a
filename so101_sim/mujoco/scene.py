"""Build the MuJoCo model: Menagerie's SO-101 composed with the project's tabletop scene (MjSpec).

The robot comes from the ``mujoco-menagerie`` package (``robotstudio_so101``: tuned gripper collision
primitives, ``gripperframe`` site, wrist camera, STS3215 servo gains). Offline, ``MENAGERIE_ROOT`` points the
package at a local copy. The scene (table, cube, target markers, lights, fixed cameras) is
``so101_sim/assets/so101_tabletop.xml`` (package data; ``mujoco_model/`` links to it).

What the builder changes on the robot, and why:

- the physics step is 1/240 s (Menagerie: 1/200) so that 8 steps make one 30 Hz control step, the frame rate
  of LeRobot's SO-101 datasets;
- Menagerie's ``wrist_cam`` is renamed ``camera2`` (SmolVLA's base checkpoint expects camera1..3);
- a ``grasp_point`` site is added between the jaws, ~22 mm from the fixed jaw's inner face and 10 mm above the
  tips: aiming it at the cube centre leaves ~9 mm of clearance on the fixed-jaw side, so a cube pose seen with
  5 mm / 10 degree error is still caught (at ~14 mm, the figure DESIGN.md quotes, that case lifted only 2 in 3);
- render geometry and options follow a render preset (see :mod:`so101_sim.mujoco.rendering`); collision
  geometry is never touched.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from so101_sim import tasks
from so101_sim.adapters import JOINT_NAMES
from so101_sim.assets import scene_xml_text
from so101_sim.mujoco.rendering import apply_render_preset

MENAGERIE_NAME = "robotstudio_so101"
# Rates and cube size come from the one task definition shared by both backends (so101_sim/tasks.py).
PHYSICS_DT = tasks.PHYSICS_DT
CONTROL_HZ = tasks.CONTROL_HZ
N_SUBSTEPS = tasks.PHYSICS_STEPS_PER_CONTROL
GRASP_POINT_IN_GRIPPER = tasks.GRASP_POINT_IN_GRIPPER  # metres, Menagerie "gripper" frame (both backends)
CUBE_HALF_SIZE = tasks.CUBE_HALF


class MenagerieUnavailable(RuntimeError):
    """Raised when Menagerie's SO-101 cannot be loaded (no network and no MENAGERIE_ROOT)."""


def load_robot_spec() -> mujoco.MjSpec:
    """Menagerie's SO-101 as an MjSpec (downloaded and cached once, or read from ``MENAGERIE_ROOT``)."""
    try:
        import mujoco_menagerie
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise MenagerieUnavailable("pip install mujoco-menagerie") from exc
    try:
        return mujoco_menagerie.get(MENAGERIE_NAME).spec("so101")
    except Exception as exc:
        root = os.environ.get("MENAGERIE_ROOT")
        raise MenagerieUnavailable(
            f"could not load {MENAGERIE_NAME!r} from mujoco-menagerie ({exc}). "
            + (
                f"MENAGERIE_ROOT={root} does not hold {MENAGERIE_NAME}/so101.xml."
                if root
                else "Without internet access, set MENAGERIE_ROOT to a local copy "
                "(this repository's CI uses MENAGERIE_ROOT=../shared/menagerie)."
            )
        ) from exc


def menagerie_dir() -> Path:
    import mujoco_menagerie

    robot = mujoco_menagerie.get(MENAGERIE_NAME)
    return Path(robot.path() if callable(robot.path) else robot.path)


@functools.cache
def _quiet_attach_warning() -> None:
    """Route MuJoCo's C-level warnings to Python logging (installed once, when this module is imported).

    MuJoCo's default warning handler prints and appends to ``MUJOCO_LOG.TXT`` in the current directory; with a
    user handler it does neither. The empty-prefix notice of ``attach`` (it may break saving; we never save
    the spec) goes to DEBUG, every other warning to WARNING on the ``so101_sim.mujoco`` logger.
    """
    import logging

    previous = mujoco.get_mju_user_warning()
    log = logging.getLogger("so101_sim.mujoco")

    def handler(message: str) -> None:
        if "empty prefix" in str(message):
            log.debug("MuJoCo: %s", message)
        elif previous is not None:
            previous(message)
        else:
            log.warning("MuJoCo: %s", message)

    mujoco.set_mju_user_warning(handler)


_quiet_attach_warning()


def build_spec(render_preset: str = "fast", camera_sizes: dict[str, tuple[int, int]] | None = None) -> mujoco.MjSpec:
    """The full scene as an MjSpec (robot + table + cube + cameras), before compilation."""
    import warnings

    robot = load_robot_spec()
    scene = mujoco.MjSpec.from_string(scene_xml_text()[1])  # package data (so101_sim/assets), see there
    robot.option.timestep = PHYSICS_DT
    robot.modelname = "so101_tabletop"
    robot.camera("wrist_cam").name = "camera2"
    gripper = robot.body("gripper")
    gripper.add_site(name="grasp_point", pos=list(GRASP_POINT_IN_GRIPPER), size=[0.003], group=4)
    # Tactile pad frames (x: jaw base -> tip, y: across, z: inward normal), placed so that the 52 mm pad reaches
    # just past the jaw's tip (23-25 mm from the site); see so101_sim/mujoco/tactile.py.
    gripper.add_site(name="pad_fixed", pos=[-0.0095, 0.0, -0.081], quat=_quat_from_axes([0, 0, -1], [0, 1, 0]),
                     size=[0.002], group=5)  # fmt: skip
    robot.body("moving_jaw_so101_v1").add_site(
        name="pad_moving", pos=[-0.0107, -0.0576, 0.0188], quat=_quat_from_axes([0, -1, 0], [0, 0, 1]),
        size=[0.002], group=5,
    )  # fmt: skip
    _quiet_attach_warning()
    frame = robot.worldbody.add_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the whole scene spec at once (its bodies are scene_static and cube): attaching its bodies one by one
        # fails on MuJoCo 3.12 (Newton's pin, the Isaac Lab 3.0 venv) with "incompatible id in material array"
        robot.attach(scene, frame=frame, prefix="")
    # "Is the cube touching each jaw?" computed by MuJoCo itself (contact sensors), not by a Python loop over
    # contacts in every step: the grasp test of the reward reads two numbers.
    for jaw in ("gripper", "moving_jaw_so101_v1"):
        robot.add_sensor(
            name=f"cube_touch_{jaw}", type=mujoco.mjtSensor.mjSENS_CONTACT, objtype=mujoco.mjtObj.mjOBJ_BODY,
            objname="cube", reftype=mujoco.mjtObj.mjOBJ_BODY, refname=jaw, intprm=[1, 0, 1],
        )  # fmt: skip
    # Visual settings of the scene file (attach copies bodies, not <visual>).
    robot.visual.headlight.diffuse = scene.visual.headlight.diffuse
    robot.visual.headlight.ambient = scene.visual.headlight.ambient
    robot.visual.headlight.specular = scene.visual.headlight.specular
    robot.visual.map.znear = scene.visual.map.znear
    robot.add_texture(
        name="sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX, builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
        rgb1=[0.55, 0.6, 0.68], rgb2=[0.2, 0.22, 0.25], width=64, height=384,
    )
    if camera_sizes:
        robot.visual.global_.offwidth = max(640, max(w for _, w in camera_sizes.values()))
        robot.visual.global_.offheight = max(480, max(h for h, _ in camera_sizes.values()))
    apply_render_preset(robot, render_preset, asset_dir=menagerie_dir() / (robot.meshdir or ""))
    return robot


def _quat_from_axes(x_axis, y_axis) -> list[float]:
    """Quaternion (w, x, y, z) of the frame whose x and y axes are given (z = x cross y)."""
    x, y = np.asarray(x_axis, float), np.asarray(y_axis, float)
    mat = np.column_stack([x, y, np.cross(x, y)])
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, mat.reshape(-1))
    return quat.tolist()


@dataclass(frozen=True)
class SceneIndex:
    """Ids into a compiled model, resolved once."""

    joint_qpos: np.ndarray  # qpos address of the 6 robot joints
    joint_dof: np.ndarray  # dof address of the 6 robot joints
    actuators: np.ndarray  # actuator ids, JOINT_NAMES order
    cube_qpos: int  # qpos address of the cube free joint (7 values)
    cube_dof: int
    cube_body: int
    cube_geom: int
    grasp_site: int
    gripper_site: int
    target_site: int
    zone_site: int
    table_geom: int
    touch_sensors: np.ndarray  # sensordata addresses of the cube-jaw contact sensors (fixed, moving)
    joint_low: np.ndarray
    joint_high: np.ndarray
    ctrl_low: np.ndarray
    ctrl_high: np.ndarray

    @classmethod
    def from_model(cls, model: mujoco.MjModel) -> SceneIndex:
        def oid(kind: mujoco.mjtObj, name: str) -> int:
            i = mujoco.mj_name2id(model, kind, name)
            if i < 0:
                raise ValueError(f"model has no {kind.name} named {name!r}")
            return i

        joints = [oid(mujoco.mjtObj.mjOBJ_JOINT, n) for n in JOINT_NAMES]
        acts = np.array([oid(mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in JOINT_NAMES])
        cube_joint = oid(mujoco.mjtObj.mjOBJ_JOINT, "cube")
        return cls(
            joint_qpos=np.array([model.jnt_qposadr[j] for j in joints]),
            joint_dof=np.array([model.jnt_dofadr[j] for j in joints]),
            actuators=acts,
            cube_qpos=int(model.jnt_qposadr[cube_joint]),
            cube_dof=int(model.jnt_dofadr[cube_joint]),
            cube_body=oid(mujoco.mjtObj.mjOBJ_BODY, "cube"),
            cube_geom=oid(mujoco.mjtObj.mjOBJ_GEOM, "cube"),
            grasp_site=oid(mujoco.mjtObj.mjOBJ_SITE, "grasp_point"),
            gripper_site=oid(mujoco.mjtObj.mjOBJ_SITE, "gripperframe"),
            target_site=oid(mujoco.mjtObj.mjOBJ_SITE, "target"),
            zone_site=oid(mujoco.mjtObj.mjOBJ_SITE, "target_zone"),
            table_geom=oid(mujoco.mjtObj.mjOBJ_GEOM, "table_top"),
            touch_sensors=np.array([
                model.sensor_adr[oid(mujoco.mjtObj.mjOBJ_SENSOR, f"cube_touch_{jaw}")]
                for jaw in ("gripper", "moving_jaw_so101_v1")
            ]),
            joint_low=np.array([model.jnt_range[j][0] for j in joints]),
            joint_high=np.array([model.jnt_range[j][1] for j in joints]),
            ctrl_low=model.actuator_ctrlrange[acts, 0].copy(),
            ctrl_high=model.actuator_ctrlrange[acts, 1].copy(),
        )


@functools.lru_cache(maxsize=8)
def _compiled_model_xml_free(render_preset: str, sizes_key: tuple) -> mujoco.MjModel:
    import warnings

    spec = build_spec(render_preset, dict(sizes_key) if sizes_key else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the empty-prefix attach notice again; we never save the spec
        return spec.compile()


def build_model(
    render_preset: str = "fast", camera_sizes: dict[str, tuple[int, int]] | None = None
) -> mujoco.MjModel:
    """A compiled model. Compilation is cached per (preset, sizes); each call returns an independent copy."""
    key = tuple(sorted((camera_sizes or {}).items()))
    import copy

    return copy.copy(_compiled_model_xml_free(render_preset, key))
