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
        for _ in range(100):
            zx, zy = rng.uniform(*task.cube_x), rng.uniform(*task.cube_y)
            if np.hypot(zx - x, zy - y) >= task.zone_min_distance:
                break
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


def reach_reward(task: TaskSpec, s: StepState) -> tuple[float, dict[str, float], bool]:
    """Dense reach reward: -distance, a smooth 1 - tanh(10 d) shaping term, +10 on success."""
    d = float(np.linalg.norm(s.gripper_pos - s.target))
    success = d < task.reach_tolerance
    parts = {"distance_penalty": -d, "shaping": 1.0 - float(np.tanh(10.0 * d)), "success_bonus": 10.0 * success}
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
    parts = {
        "distance_penalty": -2.0 * math.dist((gx, gy, gz), (ix, iy, iz)),
        "approach_bonus": 5.0 * (to_cube < 0.02),
        "height_bonus": 20.0 * min(1.0, height / task.lift_height),
        "proximity_bonus": 0.5 * (to_cube < 0.05),
        "success_bonus": 50.0 * success,
        "displacement_penalty": (
            -5.0 * math.exp(displaced / 0.05 - 1.0) if (displaced > 0.05 and on_table and not in_zone) else 0.0
        ),
    }
    return float(sum(parts.values())), parts, success


def lifted(task: TaskSpec, cube_pos: np.ndarray) -> bool:
    return float(cube_pos[2]) - CUBE_REST_Z >= task.lift_height
