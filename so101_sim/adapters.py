"""Units and frames, in one place.

The simulation works in radians (joint angles of the Menagerie SO-101, whose zero is the middle of each
joint's range: LeRobot's "new calibration" convention). LeRobot's real ``so101_follower`` reports and accepts
normalised motor values instead, so every face (env observations/actions, datasets, policy servers, the
converter) converts through the functions here.

Unit modes (``units=`` everywhere in this project):

``"lerobot"`` (default)
    What stock lerobot 0.4.4 ``so101_follower`` uses by default (``use_degrees=True``): the five arm joints in
    degrees relative to the middle of the calibrated range (``MotorNormMode.DEGREES``), the gripper as 0..100
    percent of its range (``MotorNormMode.RANGE_0_100``: 0 = closed, 100 = open).
``"lerobot_range"``
    ``so101_follower`` with ``use_degrees=False`` (older datasets): the arm joints as -100..100 over the joint
    range (``MotorNormMode.RANGE_M100_100``), gripper 0..100 as above.
``"radians"``
    The simulator's native joint angles.

The mapping assumes the real arm's calibrated range equals the simulated joint range, which holds for arms
calibrated with LeRobot's procedure to within a few degrees.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

UnitMode = Literal["lerobot", "lerobot_range", "radians"]
UNIT_MODES: tuple[str, ...] = ("lerobot", "lerobot_range", "radians")

# Motor names, in the order of lerobot's so101_follower (and of the sim's joints and actuators).
JOINT_NAMES: tuple[str, ...] = (
    "shoulder_pan",
    "shoulder_lift",
    "elbow_flex",
    "wrist_flex",
    "wrist_roll",
    "gripper",
)
ARM_JOINTS = JOINT_NAMES[:5]
GRIPPER_INDEX = 5

# Joint ranges of Menagerie's robotstudio_so101 (radians). The sim reads the same numbers from the compiled
# model; these are the reference used when no model is at hand (converter, policy servers).
SO101_JOINT_LOW = np.array([-1.91986, -1.7453293, -1.69, -1.658063, -2.7438473, -0.174533])
SO101_JOINT_HIGH = np.array([1.91986, 1.7453293, 1.69, 1.658063, 2.7438473, 1.7453292])


def check_units(units: str) -> str:
    if units not in UNIT_MODES:
        raise ValueError(f"units must be one of {UNIT_MODES}, got {units!r}")
    return units


def _limits(low: np.ndarray | None, high: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    low = SO101_JOINT_LOW if low is None else np.asarray(low, dtype=np.float64)
    high = SO101_JOINT_HIGH if high is None else np.asarray(high, dtype=np.float64)
    return low, high


def unit_affine(
    units: str = "lerobot", low: np.ndarray | None = None, high: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)`` (6,) with ``units = radians * scale + offset``: every mode is affine per joint.

    Hot loops (the env's step) precompute this once; :func:`radians_to_units` and :func:`units_to_radians`
    apply it.
    """
    check_units(units)
    low, high = _limits(low, high)
    scale, offset = np.ones(6), np.zeros(6)
    if units == "lerobot":
        scale[:5] = 180.0 / np.pi
    elif units == "lerobot_range":
        scale[:5] = 200.0 / (high[:5] - low[:5])
        offset[:5] = -low[:5] * scale[:5] - 100.0
    if units != "radians":
        scale[5] = 100.0 / (high[5] - low[5])
        offset[5] = -low[5] * scale[5]
    return scale, offset


def _check_last_axis(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.shape[-1:] != (6,):
        raise ValueError(f"expected joint vector(s) of shape (..., 6), got {v.shape}")
    return v


def radians_to_units(
    q: np.ndarray, units: str = "lerobot", low: np.ndarray | None = None, high: np.ndarray | None = None
) -> np.ndarray:
    """Sim joint angles (..., 6) in radians -> the given unit mode. Works on any leading batch shape."""
    scale, offset = unit_affine(units, low, high)
    return _check_last_axis(q) * scale + offset


def units_to_radians(
    v: np.ndarray, units: str = "lerobot", low: np.ndarray | None = None, high: np.ndarray | None = None
) -> np.ndarray:
    """Inverse of :func:`radians_to_units`."""
    scale, offset = unit_affine(units, low, high)
    return (_check_last_axis(v) - offset) / scale


def units_bounds(
    units: str = "lerobot", low: np.ndarray | None = None, high: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The joint limits expressed in a unit mode (for observation/action spaces and clipping)."""
    low_r, high_r = _limits(low, high)
    return radians_to_units(low_r, units, low_r, high_r), radians_to_units(high_r, units, low_r, high_r)


def motor_dict_to_vector(values: dict[str, float], suffix: str = ".pos") -> np.ndarray:
    """``{"shoulder_pan.pos": v, ...}`` (lerobot robot action/observation) -> (6,) vector in JOINT_NAMES order."""
    missing = [f"{n}{suffix}" for n in JOINT_NAMES if f"{n}{suffix}" not in values]
    if missing:
        raise KeyError(f"missing motor keys {missing}; expected {[f'{n}{suffix}' for n in JOINT_NAMES]}")
    return np.array([float(values[f"{n}{suffix}"]) for n in JOINT_NAMES], dtype=np.float64)


def vector_to_motor_dict(v: np.ndarray, suffix: str = ".pos") -> dict[str, float]:
    v = np.asarray(v).reshape(-1)
    if v.shape[0] != 6:
        raise ValueError(f"expected a (6,) joint vector, got {v.shape}")
    return {f"{n}{suffix}": float(x) for n, x in zip(JOINT_NAMES, v, strict=True)}


def policy_action_to_env_action(
    action: np.ndarray,
    *,
    action_dim: int,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
    scale: float | np.ndarray | None = None,
) -> np.ndarray:
    """A policy's action batch -> the env's action batch.

    Keeps the first ``action_dim`` values of each row (policies such as SmolVLA pad to 32), applies an optional
    scale, rejects non-finite values and clips to ``[low, high]`` when given. Returns float32 (B, action_dim).
    """
    a = np.asarray(action, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] < action_dim:
        raise ValueError(f"policy action must have shape (B, >={action_dim}), got {a.shape}")
    a = a[:, :action_dim]
    if scale is not None:
        a = a * np.asarray(scale, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("policy action contains NaN or inf")
    if low is not None and high is not None:
        a = np.clip(a, low, high)
    return a.astype(np.float32)


# ------------------------------------------------------------------------------------------------------------------
# Policy frames and action chunks (shared by the policy server, the runner and every other policy face)
# ------------------------------------------------------------------------------------------------------------------

LEROBOT_IMAGE_PREFIX = "observation.images."


def convert_joint_units(v: np.ndarray, from_units: str, to_units: str) -> np.ndarray:
    """Joint vector(s) (..., 6) from one unit mode to another (through radians)."""
    if from_units == to_units:
        check_units(from_units)
        return np.asarray(v, dtype=np.float64).copy()
    return radians_to_units(units_to_radians(v, from_units), to_units)


def image_to_policy_tensor_layout(image: np.ndarray) -> np.ndarray:
    """uint8 (..., H, W, 3) -> float32 (..., 3, H, W) in [0, 1], as lerobot's ``preprocess_observation`` does."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim < 3 or img.shape[-1] != 3:
        raise ValueError(f"expected uint8 images of shape (..., H, W, 3), got {img.dtype} {img.shape}")
    return np.moveaxis(img, -1, -3).astype(np.float32) / 255.0


def lerobot_policy_frame(
    images: dict[str, np.ndarray],
    state: np.ndarray | None,
    task: str | list[str],
    env_state: np.ndarray | None = None,
) -> dict:
    """Batched observation arrays -> the batch a LeRobot policy pre-processor takes.

    ``images`` maps camera name (or a full ``observation.images.<cam>`` key) to uint8 (B, H, W, 3); ``state`` is
    (B, D) in the policy's units; ``env_state`` (B, ...) becomes ``observation.environment_state``. Returns
    torch tensors ``{"observation.images.<cam>": float (B, 3, H, W) in [0, 1], "observation.state": float
    (B, D), "task": [str] * B}``: the same frame ``lerobot-eval`` builds from an env observation
    (``preprocess_observation`` + ``add_envs_task``).
    """
    import torch

    frame: dict = {}
    batch = None
    for cam, img in images.items():
        key = cam if cam.startswith("observation.") else LEROBOT_IMAGE_PREFIX + cam
        arr = image_to_policy_tensor_layout(img)
        if arr.ndim != 4:
            raise ValueError(f"camera {cam!r}: expected a batch (B, H, W, 3), got {np.shape(img)}")
        frame[key] = torch.from_numpy(arr)
        batch = arr.shape[0] if batch is None else batch
        if arr.shape[0] != batch:
            raise ValueError(f"camera {cam!r} has batch {arr.shape[0]}, other inputs have {batch}")
    if state is not None:
        s = np.asarray(state, dtype=np.float32)
        if s.ndim != 2 or (batch is not None and s.shape[0] != batch):
            raise ValueError(f"state must be (B, D) with B={batch}, got {s.shape}")
        frame["observation.state"] = torch.from_numpy(np.ascontiguousarray(s))
        batch = s.shape[0]
    if env_state is not None:
        e = np.ascontiguousarray(env_state, dtype=np.float32)
        if e.ndim < 2 or (batch is not None and e.shape[0] != batch):
            raise ValueError(f"env_state must be (B, ...) with B={batch}, got {e.shape}")
        frame["observation.environment_state"] = torch.from_numpy(e)
        batch = e.shape[0]
    batch = 1 if batch is None else batch
    texts = [task] * batch if isinstance(task, str) else [str(t) for t in task]
    if len(texts) != batch:
        raise ValueError(f"got {len(texts)} task strings for a batch of {batch}")
    frame["task"] = texts
    return frame


def action_chunk_to_env_actions(
    chunk: np.ndarray,
    *,
    action_dim: int,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
    scale: float | np.ndarray | None = None,
    policy_units: str | None = None,
    env_units: str | None = None,
) -> np.ndarray:
    """A policy's action chunk (B, T, >=action_dim) -> env actions (B, T, action_dim) float32.

    Each step goes through :func:`policy_action_to_env_action` (crop padding, scale, reject NaN, clip to
    ``[low, high]`` given in env units); when both unit modes are given, the 6 joint values are converted from
    the policy's units to the env's first.
    """
    c = np.asarray(chunk, dtype=np.float64)
    if c.ndim == 2:
        c = c[:, None]
    if c.ndim != 3:
        raise ValueError(f"action chunk must have shape (B, T, D), got {c.shape}")
    b, t, _ = c.shape
    flat = c.reshape(b * t, -1)
    if policy_units and env_units and policy_units != env_units:
        if action_dim != 6:
            raise ValueError(f"unit conversion needs 6 joint values, action_dim is {action_dim}")
        flat = flat[:, :6].copy()
        if scale is not None:  # scale applies to the policy's own units, before conversion
            flat = flat * np.asarray(scale, dtype=np.float64)
            scale = None
        flat = convert_joint_units(flat, policy_units, env_units)
    out = policy_action_to_env_action(flat, action_dim=action_dim, low=low, high=high, scale=scale)
    return out.reshape(b, t, action_dim)
