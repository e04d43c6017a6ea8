"""Adapters from trainers' reward interfaces to `RewardClient`: `trl` (TRL's GRPOTrainer
reward functions) and `verl` (verl's `compute_score`). Each imports only the client: neither
imports its trainer, so both load without torch."""
