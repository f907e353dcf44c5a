"""RL fine-tuning of flow-matching policies in the sim (ReinFlow + PPO). Guide: docs/rl.md.

- :mod:`.protocol` what a policy adapter provides; :mod:`.chain` the noisy Euler chain (time grid, noise head,
  exact log-prob); :mod:`.ppo` buffers, GAE and the clipped update; :mod:`.critic` the privileged-state critic;
  :mod:`.collector` chunked rollouts in a SAME_STEP vector env; :mod:`.trainer` the loop with checkpoints and
  ``--resume``; :mod:`.stats` per-iteration statistics, CSV and plots; :mod:`.evaluate` LeRobot's eval loop on a
  checkpoint and the failure taxonomy; :mod:`.bc` fast state-only ``flow_mlp`` behaviour cloning.
- Policy adapters live in :mod:`.adapters` (``flow_mlp``; SmolVLA / ``smolvla_tactile``).
"""
