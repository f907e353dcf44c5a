#!/usr/bin/env bash
# Leg 1: exactly the README's test command, on LeRobot 0.4.4 with this machine's Python.
set -euo pipefail
pip install -r requirements.txt && python -m pytest -q
