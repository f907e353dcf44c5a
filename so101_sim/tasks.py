"""Task definitions: what is randomised at reset, the reward, and success. Backend-independent numpy.

All positions are in metres in the robot base frame (the base sits at the origin on the table top, z = 0, and
faces +x). The cube is a 2.5 cm red cube resting on the table (its centre at z = 1.25 cm).

Workspace region for the cube (Lift-v0, PickPlace-v0): x in [0.15, 0.25], y in [-0.10, 0.10], yaw in
[-45, 45] degrees (the cube is symmetric under 90-degree turns, so that covers every yaw). The region is where
a near top-down grasp is reachable by the SO-101. LiftFixed-v0 puts the cube at (0.20, 0.0), yaw 0.

``environment_state`` layout (float32, 13 values, ``ENV_STATE_NAMES``)::

    [0:3]   cube position (x, y, z)
    [3:7]   cube orientation quaternion (w, x, y, z)
    [7:10]  task target: Reach = the point for the gripper frame; Lift = the cube's initial position raised by
            the lift height (where the cube must go); PickPlace = the centre of the target zone on the table
    [10:13] cube position at the start of the episode
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

CUBE_HALF = 0.0125
CUBE_REST_Z = CUBE_HALF
ENV_STATE_NAMES = (
    "cube_x", "cube_y", "cube_z", "cube_qw", "cube_qx", "cube_qy", "cube_qz",
    "target_x", "target_y", "target_z", "cube_init_x", "cube_init_y", "cube_init_z",
)  # fmt: skip
ENV_STATE_DIM = len(ENV_STATE_NAMES)
# Control and physics rates, both backends: the policy acts at 30 Hz, physics steps at 240 Hz (8 per action).
CONTROL_HZ = 30
PHYSICS_DT = 1.0 / 240.0
PHYSICS_STEPS_PER_CONTROL = 8
# Start pose of every episode (radians, LeRobot motor order): gripper above the workspace, jaws closed; each arm
# joint (not the gripper) gets uniform noise of +- HOME_NOISE at reset.
HOME_QPOS = (0.0, -1.0, 1.0, 1.3, 0.0, 0.0)
HOME_NOISE = 0.02
ZONE_SAMPLING_TRIES = 100  # rejection sampling of the pick-place zone (a miss has probability ~1e-14)


@dataclass(frozen=True)
class TaskSpec:
    """One task: its id suffix, instruction, randomisation and success parameters."""

    name: str
    kind: str  # "reach" | "lift" | "pickplace"
    instruction: str
    episode_length: int  # control steps at 30 Hz
    cube_x: tuple[float, float] = (0.15, 0.25)
    cube_y: tuple[float, float] = (-0.10, 0.10)
    cube_yaw: tuple[float, float] = (-np.pi / 4, np.pi / 4)
    fixed_cube: tuple[float, float, float] | None = None  # (x, y, yaw)
    lift_height: float = 0.05  # success when the cube bottom is this far above the table ...
    hold_steps: int = 10  # ... for this many consecutive control steps
    reach_tolerance: float = 0.015
    reach_x: tuple[float, float] = (0.16, 0.28)
    reach_y: tuple[float, float] = (-0.15, 0.15)
    reach_z: tuple[float, float] = (0.05, 0.20)
    zone_radius: float = 0.04
    zone_min_distance: float = 0.08
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CameraSpec:
    """A camera as both backends place it. ``quat_opengl`` (w, x, y, z) turns the parent frame into the camera's
    OpenGL frame (looks along -z, +y up: MuJoCo's and USD's convention). ``fovy_deg``: vertical field of view of
    a fixed camera; a wrist camera is given by its lens instead (``focal_mm`` over a sensor ``aperture_mm`` wide)."""

    name: str
    parent: str  # "world" or a robot body ("gripper": Menagerie's camera_mount, rigidly on the gripper)
    pos: tuple[float, float, float]
    quat_opengl: tuple[float, float, float, float]
    fovy_deg: float | None = None
    focal_mm: float | None = None
    aperture_mm: float | None = None


@dataclass(frozen=True)
class SceneSpec:
    """Table, cube and cameras: what both backends build (MuJoCo: ``so101_sim/assets/so101_tabletop.xml``, checked
    against this by ``tests/test_isaac_backend.py``; Isaac Lab: ``isaac_so_arm101.env_cfg``)."""

    table_half_size: tuple[float, float, float] = (0.4, 0.5, 0.02)
    table_pos: tuple[float, float, float] = (0.22, 0.0, -0.02)
    table_friction: float = 1.0
    table_rgb: tuple[float, float, float] = (0.52, 0.47, 0.42)
    cube_half: float = CUBE_HALF
    cube_mass: float = 0.03  # kg
    cube_friction: float = 1.0  # sliding; MuJoCo adds torsional 0.005 and rolling 1e-4 (condim 4)
    cube_rgb: tuple[float, float, float] = (0.85, 0.1, 0.1)
    cameras: dict[str, CameraSpec] = field(default_factory=lambda: {
        # top-down, 0.55 m above the table, image right = -y (MuJoCo xyaxes "0 -1 0 1 0 0")
        "camera1": CameraSpec("camera1", "world", (0.19, 0.0, 0.55), (math.sqrt(0.5), 0.0, 0.0, -math.sqrt(0.5)),
                              fovy_deg=50.0),
        # Menagerie's wrist_cam: pos (0, 0.055, -0.045), euler x -0.57 rad; 3.6 mm lens, 5.76 mm sensor width
        "camera2": CameraSpec("camera2", "gripper", (0.0, 0.055, -0.045), (math.cos(-0.285), math.sin(-0.285), 0.0, 0.0),
                              focal_mm=3.6, aperture_mm=5.76),
    })
    # MuJoCo solver options of Menagerie's SO-101 (<option>), used by the MuJoCo Warp solver too
    integrator: str = "implicitfast"
    cone: str = "elliptic"
    impratio: float = 10.0
    solver_iterations: int = 10
    solver_ls_iterations: int = 20
    njmax: int = 300
    nconmax: int = 64


SCENE = SceneSpec()

TASKS: dict[str, TaskSpec] = {
    "Reach-v0": TaskSpec("Reach-v0", "reach", "Move the gripper to the green target.", episode_length=150),
    "Lift-v0": TaskSpec("Lift-v0", "lift", "Pick up the red cube.", episode_length=300),
    "LiftFixed-v0": TaskSpec(
        "LiftFixed-v0", "lift", "Pick up the red cube.", episode_length=300, fixed_cube=(0.20, 0.0, 0.0)
    ),
    "PickPlace-v0": TaskSpec(
        "PickPlace-v0", "pickplace", "Put the red cube in the green zone.", episode_length=450
    ),
}


def get_task(name: str) -> TaskSpec:
    key = name.split("/")[-1]
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    return TASKS[key]


@dataclass
class EpisodeLayout:
    """What reset sampled: cube pose and target."""

    cube_pos: np.ndarray  # (3,)
    cube_yaw: float
    target: np.ndarray  # (3,) see module docstring


def sample_layout(task: TaskSpec, rng: np.random.Generator) -> EpisodeLayout:
    if task.fixed_cube is not None:
        x, y, yaw = task.fixed_cube
    else:
        x, y = rng.uniform(*task.cube_x), rng.uniform(*task.cube_y)
        yaw = rng.uniform(*task.cube_yaw)
    cube = np.array([x, y, CUBE_REST_Z])
    if task.kind == "reach":
        target = np.array([rng.uniform(*task.reach_x), rng.uniform(*task.reach_y), rng.uniform(*task.reach_z)])
    elif task.kind == "lift":
        target = cube + np.array([0.0, 0.0, task.lift_height])
    else:  # pickplace: a zone in the same region, far enough from the cube
        for _ in range(ZONE_SAMPLING_TRIES):
            zx, zy = rng.uniform(*task.cube_x), rng.uniform(*task.cube_y)
            if np.hypot(zx - x, zy - y) >= task.zone_min_distance:
                break
        else:  # never a zone too close to the cube: that would be a different (easier) task
            raise RuntimeError(
                f"{task.name}: no target zone at least {task.zone_min_distance} m from the cube at ({x:.3f}, {y:.3f}) "
                f"in {ZONE_SAMPLING_TRIES} draws over x {task.cube_x}, y {task.cube_y}; the region is too small for "
                "zone_min_distance"
            )
        target = np.array([zx, zy, 0.0])
    return EpisodeLayout(cube_pos=cube, cube_yaw=float(yaw), target=target)


@dataclass
class StepState:
    """Quantities the reward and success need, measured by the backend after a step."""

    gripper_pos: np.ndarray  # grasp point between the jaws (3,)
    cube_pos: np.ndarray  # (3,)
    cube_init: np.ndarray  # (3,)
    target: np.ndarray  # (3,)
    cube_grasped: bool  # both jaws touch the cube
    cube_speed: float


# Reward weights, both backends (the Isaac Lab tasks use these terms with these weights; Isaac Lab's reward
# manager multiplies by the step length, so isaac_so_arm101 divides by it). Each term is weight x feature:
REACH_REWARD_WEIGHTS = {"distance_penalty": -1.0, "shaping": 1.0, "success_bonus": 10.0}
MANIPULATION_REWARD_WEIGHTS = {"distance_penalty": -2.0, "approach_bonus": 5.0, "height_bonus": 20.0,
                               "proximity_bonus": 0.5, "success_bonus": 50.0, "displacement_penalty": -5.0}
APPROACH_RADIUS = 0.02  # m, gripper to cube, approach_bonus
PROXIMITY_RADIUS = 0.05  # m, proximity_bonus
DISPLACEMENT_SCALE = 0.05  # m, displacement_penalty starts (cube pushed along the table)
# The grasp point between the jaws (the lift reward's "gripper" position), in Menagerie's ``gripper`` body frame
GRASP_POINT_IN_GRIPPER = (0.012, -0.0002, -0.088)


def reach_reward(task: TaskSpec, s: StepState) -> tuple[float, dict[str, float], bool]:
    """Dense reach reward: -distance, a smooth 1 - tanh(10 d) shaping term, +10 on success."""
    d = float(np.linalg.norm(s.gripper_pos - s.target))
    success = d < task.reach_tolerance
    w = REACH_REWARD_WEIGHTS
    parts = {"distance_penalty": w["distance_penalty"] * d, "shaping": w["shaping"] * (1.0 - float(np.tanh(10.0 * d))),
             "success_bonus": w["success_bonus"] * success}
    return float(sum(parts.values())), parts, success


def manipulation_reward(task: TaskSpec, s: StepState, held_steps: int) -> tuple[float, dict[str, float], bool]:
    """Lift / pick-and-place reward, each component reported separately (see README "Rewards").

    - distance_penalty: -2.0 x distance (m) from the gripper to the cube's initial position
    - approach_bonus: +5.0 while the gripper is within 2 cm of the cube
    - height_bonus: +20.0 x the fraction of the lift height reached (cube bottom above the table)
    - proximity_bonus: +0.5 while the gripper is within 5 cm of the cube
    - success_bonus: +50.0 on the step the task is solved
    - displacement_penalty: -5.0 x exp(d / 5 cm - 1) when the cube, still on the table, was pushed d > 5 cm
      away from where it started (and, for pick-and-place, is not in the target zone)
    """
    gx, gy, gz = s.gripper_pos.tolist()
    cx, cy, cz = s.cube_pos.tolist()
    ix, iy, iz = s.cube_init.tolist()
    to_cube = math.dist((gx, gy, gz), (cx, cy, cz))
    height = max(0.0, cz - CUBE_REST_Z)
    displaced = math.hypot(cx - ix, cy - iy)
    in_zone = False
    if task.kind == "pickplace":
        in_zone = math.hypot(cx - float(s.target[0]), cy - float(s.target[1])) < task.zone_radius
        success = in_zone and height < 0.005 and s.cube_speed < 0.05 and not s.cube_grasped
    else:
        success = held_steps >= task.hold_steps
    on_table = height < 0.005
    w = MANIPULATION_REWARD_WEIGHTS
    parts = {
        "distance_penalty": w["distance_penalty"] * math.dist((gx, gy, gz), (ix, iy, iz)),
        "approach_bonus": w["approach_bonus"] * (to_cube < APPROACH_RADIUS),
        "height_bonus": w["height_bonus"] * min(1.0, height / task.lift_height),
        "proximity_bonus": w["proximity_bonus"] * (to_cube < PROXIMITY_RADIUS),
        "success_bonus": w["success_bonus"] * success,
        "displacement_penalty": (
            w["displacement_penalty"] * math.exp(displaced / DISPLACEMENT_SCALE - 1.0)
            if (displaced > DISPLACEMENT_SCALE and on_table and not in_zone) else 0.0
        ),
    }
    return float(sum(parts.values())), parts, success


def lifted(task: TaskSpec, cube_pos: np.ndarray) -> bool:
    return float(cube_pos[2]) - CUBE_REST_Z >= task.lift_height
