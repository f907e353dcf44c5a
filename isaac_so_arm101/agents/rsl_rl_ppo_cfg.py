"""rsl_rl PPO runner configurations of the SO-ARM reach and lift tasks, for Isaac Lab 2.3 and 3.0.

Isaac Lab's ``train.py``/``play.py`` load them through the gym registry (``rsl_rl_cfg_entry_point``); this
module imports ``isaaclab_rl``, so only those scripts import it. The two lines name the network configs
differently (3.0: ``actor``/``critic`` model configs; 2.3: one ``policy`` actor-critic config); the networks and
PPO settings are the same.
"""

from __future__ import annotations

from isaaclab.utils import configclass
from isaaclab_rl import rsl_rl

_PPO = {"value_loss_coef": 1.0, "use_clipped_value_loss": True, "clip_param": 0.2, "entropy_coef": 0.006,
        "num_learning_epochs": 5, "num_mini_batches": 4, "learning_rate": 1.0e-4, "schedule": "adaptive",
        "gamma": 0.98, "lam": 0.95, "desired_kl": 0.01, "max_grad_norm": 1.0}


def _networks(hidden: list[int]) -> dict:
    if hasattr(rsl_rl, "RslRlMLPModelCfg"):  # Isaac Lab 3.0
        m = rsl_rl.RslRlMLPModelCfg
        return {"actor": m(hidden_dims=hidden, activation="elu", obs_normalization=False,
                           distribution_cfg=m.GaussianDistributionCfg(init_std=1.0)),
                "critic": m(hidden_dims=hidden, activation="elu", obs_normalization=False)}
    return {"policy": rsl_rl.RslRlPpoActorCriticCfg(  # Isaac Lab 2.3
        init_noise_std=1.0, actor_hidden_dims=hidden, critic_hidden_dims=hidden, activation="elu")}


@configclass
class ReachPPORunnerCfg(rsl_rl.RslRlOnPolicyRunnerCfg):
    num_steps_per_env = 24
    max_iterations = 1000
    save_interval = 50
    experiment_name = "so_arm101_reach"
    algorithm = rsl_rl.RslRlPpoAlgorithmCfg(**_PPO)

    def __post_init__(self):
        for name, value in _networks([64, 64]).items():
            setattr(self, name, value)


@configclass
class LiftPPORunnerCfg(rsl_rl.RslRlOnPolicyRunnerCfg):
    num_steps_per_env = 24
    max_iterations = 3000
    save_interval = 50
    experiment_name = "so_arm101_lift"
    algorithm = rsl_rl.RslRlPpoAlgorithmCfg(**_PPO)

    def __post_init__(self):
        for name, value in _networks([256, 128, 64]).items():
            setattr(self, name, value)
