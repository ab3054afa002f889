"""Tool servers the taskset's tasks launch per rollout."""
