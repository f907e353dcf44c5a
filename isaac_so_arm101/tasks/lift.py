"""Lift tasks (importing registers every ``Isaac-SO-ARM10x-*`` id; see :mod:`isaac_so_arm101`)."""

import isaac_so_arm101 as _tasks

TASK_IDS = tuple(t for t, info in _tasks.TASKS.items() if info.task == "lift")
