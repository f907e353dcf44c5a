"""Every Isaac Lab name this project touches, in one place, imported lazily.

Nothing here imports Isaac Lab at module import time. :data:`NAMES` lists each class, function and config the
backend (``so101_sim.isaac``) and the task configs (``isaac_so_arm101``) use, together with the members
(attributes, methods, config fields) they read or set and the keyword parameters they pass. Code gets the
objects through :data:`il` (``il.ArticulationCfg``, ``il.mdp_image``...), which imports the real module on first
use.

Two tables, one per Isaac Lab line (:data:`NAMES_23` = :data:`NAMES`, Isaac Sim 2.3; :data:`NAMES_30`, kit-less
3.0); :func:`isaaclab_line` picks one, and :func:`quat_cfg` / :func:`as_tensor` / :func:`quat_wxyz` carry the
3.0 conventions (x, y, z, w quaternions, ``ProxyArray`` buffers). Checks that keep the tables honest:

* ``tests/isaaclab3/test_isaac_source_names.py`` resolves every entry, member and parameter in the Isaac Lab
  2.3 wheel's source and in the installed 3.0 wheel with :mod:`ast` (:mod:`so101_sim.isaac.source_check`);
  CI leg 40 fetches the 2.3 source as an install step;
* the contract tests' stand-in (``tests/isaac_standin``, the 2.3 line) exports exactly the 2.3 aliases, and its
  config classes accept exactly the listed fields, so code that uses an unlisted name or field fails the tests;
* the stand-in's runtime objects (env, scene, articulation, camera, managers) expose exactly the listed members;
* the 3.0 line runs for real, kit-less on the CPU, in ``tests/isaaclab3``.

For tests, the environment variable ``SO101_ISAACLAB_STANDIN`` names a module that provides the aliases instead
of Isaac Lab (``SO101_ISAACLAB_STANDIN=isaac_standin`` with ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any, Literal

ISAACLAB_VERSION = "2.3"  # the Isaac Sim (Kit) line; the kit-less line is "3.0" (see :func:`isaaclab_line`)
STANDIN_ENV = "SO101_ISAACLAB_STANDIN"

INSTALL_STEPS = """\
The Isaac Lab backend runs on either line (docs/isaac.md):
Isaac Lab 3.0 without Isaac Sim (any CUDA GPU or the CPU; Newton physics, Warp cameras), in a Python >= 3.12 of
its own (its torch/transformers pins do not fit LeRobot 0.4.4):
  pip install torch==2.11.0 newton==1.6.1 warp-lang==1.17.0 "mujoco-warp~=3.12.0" usd-exchange==3.0.1 ... (the
  full list is in docs/isaac.md and .ci/legs/40-isaaclab3.sh), then pip install --no-deps isaaclab==3.0.0,
  and mujoco-usd-converter==0.8.0 in a venv of its own (converts Menagerie's SO-101 to USD once).
Or Isaac Sim 5.x and Isaac Lab 2.3 (an NVIDIA RTX GPU, Linux or Windows, Python 3.11).
Install, then run this project with Isaac Lab's Python:
  1. Install Isaac Lab 2.3 (https://isaac-sim.github.io/IsaacLab/main/source/setup/installation/):
       pip install "isaacsim[all,extscache]==5.1.0" --extra-index-url https://pypi.nvidia.com
       git clone -b v2.3.2 https://github.com/isaac-sim/IsaacLab && cd IsaacLab && ./isaaclab.sh --install
  2. Install lerobot 0.4.4 and this project into that Python. isaaclab and lerobot pin numpy and packaging
     incompatibly, so follow the recipe in docs/isaac.md ("Dependency conflicts"), ending with:
       ./isaaclab.sh -p -m pip install --no-deps -e /path/to/so101-sim
  3. Set SO101_URDF (and SO100_URDF) to TheRobotStudio's URDFs, then run, e.g.:
       ./isaaclab.sh -p -m so101_sim.cli run --backend isaac --task Isaac-SO-ARM101-Lift-Cube-v0"""


class IsaacLabNotInstalledError(ImportError):
    """Raised when the Isaac backend is asked for and Isaac Lab cannot be imported; says how to install it."""

    def __init__(self, detail: str = "") -> None:
        head = "The Isaac Lab backend was requested but Isaac Lab is not installed"
        if detail:
            head += f" ({detail})"
        super().__init__(f"{head}.\n{INSTALL_STEPS}")


Kind = Literal["class", "cfg", "function", "term", "constant", "module"]


@dataclass(frozen=True)
class ApiName:
    """One Isaac Lab name: where it lives, what of it we use.

    ``qualname`` may be nested (``UrdfConverterCfg.JointDriveCfg.PDGainsCfg``). ``members`` are attributes,
    properties, methods or config fields we read or set. ``params`` maps a method name (``""`` for the
    callable itself: ``__init__`` of a class, or the function) to the keyword parameters we pass.
    """

    module: str
    qualname: str
    kind: Kind
    members: tuple[str, ...] = ()
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    imported: bool = True  # False: never imported, only reached at run time (e.g. ArticulationData)


def _n(module: str, qualname: str, kind: Kind, members: str = "", params: dict[str, str] | None = None,
       imported: bool = True) -> ApiName:
    return ApiName(module, qualname, kind, tuple(members.split()),
                   {k: tuple(v.split()) for k, v in (params or {}).items()}, imported)


_ASSET_INIT = "pos rot"
_MDP = "isaaclab.envs.mdp"

# alias -> name. Aliases are what code writes after ``il.``; the stand-in exports the same aliases. Some members
# are read by Isaac Lab's own terms that our configs use (``episode_length_buf`` by ``time_out``,
# ``CameraData.output`` by ``image``): listed so the stand-in mimics them and the source check covers them.
NAMES: dict[str, ApiName] = {
    # ---- application and environment (so101_sim.isaac) ---------------------------------------------------
    "AppLauncher": _n("isaaclab.app", "AppLauncher", "class", "app",
                      {"": "launcher_args headless enable_cameras device"}),
    "ManagerBasedRLEnv": _n(
        "isaaclab.envs", "ManagerBasedRLEnv", "class",
        "cfg num_envs device step_dt scene episode_length_buf max_episode_length termination_manager "
        "command_manager action_manager obs_buf observation_space action_space reset step render close",
        {"": "cfg render_mode", "reset": "seed", "step": "action"}),
    "InteractiveScene": _n("isaaclab.scene", "InteractiveScene", "class", "__getitem__ env_origins num_envs",
                           imported=False),
    "Articulation": _n("isaaclab.assets", "Articulation", "class",
                       "data body_names joint_names find_joints write_joint_position_limit_to_sim",
                       {"write_joint_position_limit_to_sim": "limits joint_ids env_ids",
                        "find_joints": "name_keys preserve_order"}, imported=False),
    "ArticulationData": _n("isaaclab.assets", "ArticulationData", "class",
                           "body_link_pos_w body_link_quat_w joint_pos joint_vel", imported=False),
    "RigidObject": _n("isaaclab.assets", "RigidObject", "class", "data", imported=False),
    "RigidObjectData": _n("isaaclab.assets", "RigidObjectData", "class", "root_link_pos_w root_link_quat_w",
                          imported=False),
    "TiledCamera": _n("isaaclab.sensors", "TiledCamera", "class", "data", imported=False),
    "CameraData": _n("isaaclab.sensors", "CameraData", "class", "output", imported=False),
    "TerminationManager": _n("isaaclab.managers", "TerminationManager", "class", "get_term active_terms",
                             {"get_term": "name"}, imported=False),
    "CommandManager": _n("isaaclab.managers", "CommandManager", "class", "get_command",
                         {"get_command": "name"}, imported=False),
    "ActionManager": _n("isaaclab.managers", "ActionManager", "class", "action total_action_dim",
                        imported=False),
    "RecorderTerm": _n("isaaclab.managers", "RecorderTerm", "class", "_env record_pre_step",
                       {"": "cfg env"}),
    # ---- configuration (isaac_so_arm101) ------------------------------------------------------------------
    "configclass": _n("isaaclab.utils", "configclass", "function"),
    "ManagerBasedRLEnvCfg": _n(
        "isaaclab.envs", "ManagerBasedRLEnvCfg", "cfg",
        "scene observations actions rewards terminations events commands recorders decimation "
        "episode_length_s sim viewer"),
    "SimulationCfg": _n("isaaclab.sim", "SimulationCfg", "cfg", "dt render_interval device", imported=False),
    "ViewerCfg": _n("isaaclab.envs", "ViewerCfg", "cfg", "eye lookat", imported=False),
    "InteractiveSceneCfg": _n("isaaclab.scene", "InteractiveSceneCfg", "cfg", "num_envs env_spacing"),
    "ArticulationCfg": _n("isaaclab.assets", "ArticulationCfg", "cfg",
                          "prim_path spawn init_state actuators soft_joint_pos_limit_factor"),
    "ArticulationCfg.InitialStateCfg": _n("isaaclab.assets", "ArticulationCfg.InitialStateCfg", "cfg",
                                          "pos rot joint_pos joint_vel"),
    "ImplicitActuatorCfg": _n("isaaclab.actuators", "ImplicitActuatorCfg", "cfg",
                              "joint_names_expr stiffness damping effort_limit_sim velocity_limit_sim armature "
                              "friction"),
    "UrdfFileCfg": _n("isaaclab.sim", "UrdfFileCfg", "cfg",
                      "asset_path fix_base merge_fixed_joints joint_drive rigid_props articulation_props "
                      "activate_contact_sensors"),
    "UrdfConverterCfg": _n("isaaclab.sim", "UrdfConverterCfg", "cfg", "JointDriveCfg"),
    "UrdfConverterCfg.JointDriveCfg": _n("isaaclab.sim", "UrdfConverterCfg.JointDriveCfg", "cfg",
                                         "drive_type target_type gains"),
    "UrdfConverterCfg.JointDriveCfg.PDGainsCfg": _n("isaaclab.sim", "UrdfConverterCfg.JointDriveCfg.PDGainsCfg",
                                                    "cfg", "stiffness damping"),
    "ArticulationRootPropertiesCfg": _n("isaaclab.sim", "ArticulationRootPropertiesCfg", "cfg",
                                        "enabled_self_collisions solver_position_iteration_count "
                                        "solver_velocity_iteration_count"),
    "RigidBodyPropertiesCfg": _n("isaaclab.sim", "RigidBodyPropertiesCfg", "cfg",
                                 "disable_gravity kinematic_enabled max_depenetration_velocity "
                                 "solver_position_iteration_count solver_velocity_iteration_count"),
    "RigidObjectCfg": _n("isaaclab.assets", "RigidObjectCfg", "cfg", "prim_path spawn init_state"),
    "RigidObjectCfg.InitialStateCfg": _n("isaaclab.assets", "RigidObjectCfg.InitialStateCfg", "cfg", _ASSET_INIT),
    "AssetBaseCfg": _n("isaaclab.assets", "AssetBaseCfg", "cfg", "prim_path spawn init_state"),
    "AssetBaseCfg.InitialStateCfg": _n("isaaclab.assets", "AssetBaseCfg.InitialStateCfg", "cfg", _ASSET_INIT),
    "CuboidCfg": _n("isaaclab.sim", "CuboidCfg", "cfg",
                    "size rigid_props mass_props collision_props visual_material physics_material"),
    "MassPropertiesCfg": _n("isaaclab.sim", "MassPropertiesCfg", "cfg", "mass"),
    "CollisionPropertiesCfg": _n("isaaclab.sim", "CollisionPropertiesCfg", "cfg", "contact_offset rest_offset"),
    "PreviewSurfaceCfg": _n("isaaclab.sim", "PreviewSurfaceCfg", "cfg", "diffuse_color roughness"),
    "RigidBodyMaterialCfg": _n("isaaclab.sim", "RigidBodyMaterialCfg", "cfg",
                               "static_friction dynamic_friction restitution"),
    "GroundPlaneCfg": _n("isaaclab.sim", "GroundPlaneCfg", "cfg", "color"),
    "DomeLightCfg": _n("isaaclab.sim", "DomeLightCfg", "cfg", "color intensity"),
    "PinholeCameraCfg": _n("isaaclab.sim", "PinholeCameraCfg", "cfg",
                           "focal_length focus_distance horizontal_aperture clipping_range"),
    "TiledCameraCfg": _n("isaaclab.sensors", "TiledCameraCfg", "cfg",
                         "prim_path offset data_types spawn width height update_period"),
    "TiledCameraCfg.OffsetCfg": _n("isaaclab.sensors", "TiledCameraCfg.OffsetCfg", "cfg", "pos rot convention"),
    "ObservationGroupCfg": _n("isaaclab.managers", "ObservationGroupCfg", "cfg",
                              "concatenate_terms enable_corruption"),
    "ObservationTermCfg": _n("isaaclab.managers", "ObservationTermCfg", "cfg", "func params"),
    "RewardTermCfg": _n("isaaclab.managers", "RewardTermCfg", "cfg", "func params weight"),
    "TerminationTermCfg": _n("isaaclab.managers", "TerminationTermCfg", "cfg", "func params time_out"),
    "EventTermCfg": _n("isaaclab.managers", "EventTermCfg", "cfg", "func params mode"),
    "RecorderTermCfg": _n("isaaclab.managers", "RecorderTermCfg", "cfg", "class_type"),
    "SceneEntityCfg": _n("isaaclab.managers", "SceneEntityCfg", "cfg", "name joint_names body_names preserve_order",
                         {"": "name joint_names body_names preserve_order"}),
    "DatasetExportMode": _n("isaaclab.managers", "DatasetExportMode", "constant",
                            "EXPORT_ALL EXPORT_SUCCEEDED_ONLY"),
    "ActionStateRecorderManagerCfg": _n(_MDP, "ActionStateRecorderManagerCfg", "cfg",
                                        "dataset_export_dir_path dataset_filename dataset_export_mode"),
    "JointPositionActionCfg": _n(_MDP, "JointPositionActionCfg", "cfg",
                                 "asset_name joint_names scale use_default_offset preserve_order"),
    "BinaryJointPositionActionCfg": _n(_MDP, "BinaryJointPositionActionCfg", "cfg",
                                       "asset_name joint_names open_command_expr close_command_expr"),
    "UniformPoseCommandCfg": _n(_MDP, "UniformPoseCommandCfg", "cfg",
                                "asset_name body_name resampling_time_range debug_vis ranges"),
    "UniformPoseCommandCfg.Ranges": _n(_MDP, "UniformPoseCommandCfg.Ranges", "cfg",
                                       "pos_x pos_y pos_z roll pitch yaw"),
    # ---- MDP terms (functions called by Isaac Lab's managers with the listed keyword params) -------------
    "mdp_joint_pos": _n(_MDP, "joint_pos", "function", params={"": "env asset_cfg"}),
    "mdp_joint_vel": _n(_MDP, "joint_vel", "function", params={"": "env asset_cfg"}),
    "mdp_joint_pos_rel": _n(_MDP, "joint_pos_rel", "function", params={"": "env asset_cfg"}),
    "mdp_joint_vel_rel": _n(_MDP, "joint_vel_rel", "function", params={"": "env asset_cfg"}),
    "mdp_last_action": _n(_MDP, "last_action", "function", params={"": "env"}),
    "mdp_image": _n(_MDP, "image", "function", params={"": "env sensor_cfg data_type normalize"}),
    "mdp_time_out": _n(_MDP, "time_out", "function", params={"": "env"}),
    "mdp_action_rate_l2": _n(_MDP, "action_rate_l2", "function", params={"": "env"}),
    "mdp_joint_vel_l2": _n(_MDP, "joint_vel_l2", "function", params={"": "env asset_cfg"}),
    "mdp_reset_scene_to_default": _n(_MDP, "reset_scene_to_default", "function", params={"": "env env_ids"}),
    "mdp_reset_root_state_uniform": _n(_MDP, "reset_root_state_uniform", "function",
                                       params={"": "env env_ids pose_range velocity_range asset_cfg"}),
    "mdp_reset_joints_by_offset": _n(_MDP, "reset_joints_by_offset", "function",
                                     params={"": "env env_ids position_range velocity_range asset_cfg"}),
}

NAMES_23 = NAMES

# Isaac Lab 3.0 (kit-less: Newton physics, Warp ray-traced cameras). Same aliases where the name survived; what
# changed: cameras are ``Camera`` + ``renderer_cfg`` (``TiledCamera`` is deprecated), the robot is a USD file
# (Menagerie's MJCF converted once, see :mod:`so101_sim.isaac.usd_asset`) instead of Isaac Sim's URDF importer,
# actuator limits are ``joint_effort_limit``/``joint_velocity_limit``, physics is ``NewtonCfg`` with the MuJoCo
# Warp solver, quaternions are (x, y, z, w) and asset data are ``ProxyArray`` (read through ``.torch``). The ground
# plane and dome light of 2.3 load assets through ``omni.client`` (Kit): the 3.0 scene uses cuboids and the
# renderer's default light instead.
# Names the 3.0 configs do not use (Kit-only, replaced, or gone from 3.0's source), and names 3.0 redefines:
_23_ONLY = ("AppLauncher", "TiledCamera", "TiledCameraCfg", "TiledCameraCfg.OffsetCfg", "UrdfFileCfg",
            "UrdfConverterCfg", "UrdfConverterCfg.JointDriveCfg", "UrdfConverterCfg.JointDriveCfg.PDGainsCfg",
            "GroundPlaneCfg", "DomeLightCfg", "ImplicitActuatorCfg", "ArticulationRootPropertiesCfg",
            "RigidBodyPropertiesCfg", "CollisionPropertiesCfg", "Articulation", "SimulationCfg")
NAMES_30: dict[str, ApiName] = {k: v for k, v in NAMES_23.items() if k not in _23_ONLY}
NAMES_30.update({
    "launch_simulation": _n("isaaclab.app", "launch_simulation", "function"),
    "SimulationCfg": _n("isaaclab.sim", "SimulationCfg", "cfg", "dt render_interval device physics",
                        imported=False),
    "Articulation": _n("isaaclab.assets", "Articulation", "class",
                       "data body_names joint_names find_joints write_joint_position_limit_to_sim_index",
                       {"write_joint_position_limit_to_sim_index": "limits joint_ids env_ids",
                        "find_joints": "name_keys preserve_order"}, imported=False),
    "Camera": _n("isaaclab.sensors", "Camera", "class", "data", imported=False),
    "CameraCfg": _n("isaaclab.sensors", "CameraCfg", "cfg",
                    "prim_path offset data_types spawn width height update_period renderer_cfg "
                    "update_latest_camera_pose"),
    "CameraCfg.OffsetCfg": _n("isaaclab.sensors", "CameraCfg.OffsetCfg", "cfg", "pos rot convention"),
    "UsdFileCfg": _n("isaaclab.sim", "UsdFileCfg", "cfg", "usd_path rigid_props articulation_props"),
    "ImplicitActuatorCfg": _n("isaaclab.actuators", "ImplicitActuatorCfg", "cfg",
                              "joint_names_expr stiffness damping joint_effort_limit joint_velocity_limit "
                              "armature friction"),
    "NewtonCfg": _n("isaaclab_newton.physics", "NewtonCfg", "cfg", "solver_cfg num_substeps use_cuda_graph"),
    "MJWarpSolverCfg": _n("isaaclab_newton.physics", "MJWarpSolverCfg", "cfg",
                          "njmax nconmax iterations ls_iterations solver integrator cone impratio "
                          "use_mujoco_contacts"),
    "NewtonWarpRendererCfg": _n("isaaclab_newton.renderers", "NewtonWarpRendererCfg", "cfg", ""),
    # the data classes read at run time live in the backend-independent base classes
    "ArticulationData": _n("isaaclab.assets.articulation.base_articulation_data", "BaseArticulationData", "class",
                           "body_link_pos_w body_link_quat_w joint_pos joint_vel", imported=False),
    "RigidObjectData": _n("isaaclab.assets.rigid_object.base_rigid_object_data", "BaseRigidObjectData", "class",
                          "root_link_pos_w root_link_quat_w", imported=False),
    # 3.0's ``RigidBodyMaterialCfg`` is a deprecated alias of PhysX's material: the solver-common one instead
    "RigidBodyMaterialCfg": _n("isaaclab.sim.spawners.materials", "UsdPhysicsRigidBodyMaterialCfg", "cfg",
                               "static_friction dynamic_friction restitution"),
    "mdp_reset_root_state_uniform": _n(_MDP, "reset_root_state_uniform", "class",
                                       params={"__call__": "env env_ids pose_range velocity_range asset_cfg"}),
    # 2.3's ``image`` function became the ``image_rgb`` term class (same keyword params, plus a frame stack)
    "mdp_image": _n(_MDP, "image_rgb", "class",
                    params={"__call__": "env sensor_cfg data_type normalize channel_first frame_stack"}),
    "RigidBodyBaseCfg": _n("isaaclab.sim", "RigidBodyBaseCfg", "cfg", "disable_gravity kinematic_enabled"),
    "CollisionBaseCfg": _n("isaaclab.sim", "CollisionBaseCfg", "cfg", "collision_enabled"),
})
NAMES_BY_LINE: dict[str, dict[str, ApiName]] = {"2.3": NAMES_23, "3.0": NAMES_30}


def isaaclab_line() -> str:
    """Which Isaac Lab line this process gets: ``"3.0"`` (kit-less, Newton) or ``"2.3"`` (Isaac Sim / Kit).

    A stand-in says which line it mimics with ``ISAACLAB_LINE``; the real package is 3.0 when ``isaaclab_newton``
    (part of the 3.0 wheel) is importable. Never imports Isaac Lab.
    """
    standin = standin_module()
    if standin:
        return str(getattr(importlib.import_module(standin), "ISAACLAB_LINE", "2.3"))
    return "3.0" if importlib.util.find_spec("isaaclab_newton") is not None else "2.3"


def names() -> dict[str, ApiName]:
    """The alias table of the line this process gets (:func:`isaaclab_line`)."""
    return NAMES_BY_LINE[isaaclab_line()]


def quat_cfg(wxyz: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A rotation written (w, x, y, z) in this project, in the convention of the line's configs."""
    w, x, y, z = wxyz
    return (x, y, z, w) if isaaclab_line() == "3.0" else (w, x, y, z)


def as_tensor(x: Any) -> Any:
    """An asset or sensor buffer as a torch tensor: 3.0's ``ProxyArray`` through ``.torch``, 2.3's tensor as is."""
    return x.torch if hasattr(x, "torch") and hasattr(x, "warp") else x


def quat_wxyz(q: Any) -> Any:
    """A (..., 4) quaternion buffer read from Isaac Lab, as a (w, x, y, z) torch tensor (3.0 stores x, y, z, w)."""
    q = as_tensor(q)
    if isaaclab_line() == "3.0":
        return q[..., [3, 0, 1, 2]]
    return q


def runtime_members(alias: str) -> tuple[str, ...]:
    return names()[alias].members


# ---- lazy loading -------------------------------------------------------------------------------------------
def standin_module() -> str | None:
    return os.environ.get(STANDIN_ENV) or None


def isaaclab_available() -> bool:
    """True when Isaac Lab (or the configured stand-in) can be imported; never imports Isaac Lab itself."""
    standin = standin_module()
    if standin:
        return importlib.util.find_spec(standin) is not None
    return importlib.util.find_spec("isaaclab") is not None


def require_isaaclab() -> None:
    """Raise :class:`IsaacLabNotInstalledError` (an ImportError) when Isaac Lab cannot be imported."""
    if not isaaclab_available():
        raise IsaacLabNotInstalledError("no module named 'isaaclab'")


_cache: dict[str, Any] = {}


def load(alias: str) -> Any:
    """The object behind an alias of :data:`NAMES`, imported on first use."""
    if alias in _cache:
        return _cache[alias]
    table = names()
    if alias not in table:
        raise KeyError(f"{alias!r} is not in so101_sim.isaac.isaaclab_api's Isaac Lab {isaaclab_line()} table "
                       "(NAMES_23 / NAMES_30); add it there (and to the stand-in)")
    entry = table[alias]
    standin = standin_module()
    if standin:
        obj = getattr(importlib.import_module(standin), alias)
    else:
        require_isaaclab()
        try:
            obj = importlib.import_module(entry.module)
        except ImportError as exc:
            if exc.name and exc.name.split(".")[0] in ("isaaclab", "isaacsim"):
                raise IsaacLabNotInstalledError(str(exc)) from exc
            raise ImportError(
                f"importing {entry.module} failed: {exc}. Isaac Lab modules import Isaac Sim; start the app first "
                "(so101_sim.isaac.app.launch_app or make_vector_env(..., launch_app=True))") from exc
        for i, part in enumerate(entry.qualname.split(".")):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                if i:
                    raise
                # the pip wheel registers ``isaaclab.app.AppLauncher`` in sys.modules instead of as an attribute
                obj = importlib.import_module(f"{entry.module}.{part}")
    _cache[alias] = obj
    return obj


def clear_cache() -> None:
    """Forget loaded objects (tests switch between stand-ins and real modules)."""
    _cache.clear()


class _Namespace:
    """``il.<alias>`` loads the alias (dots in nested aliases are written as attribute access on the parent)."""

    def __getattr__(self, alias: str) -> Any:
        if alias.startswith("__"):
            raise AttributeError(alias)
        return load(alias)

    def __dir__(self) -> list[str]:
        return sorted(a for a in names() if "." not in a)


il = _Namespace()
