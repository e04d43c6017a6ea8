"""Trainer-side client of Referee (HTTP client, TRL/verl/OpenRLHF adapters, GRPO trainer).

Not built yet: it arrives with the trainer-client issue. The package exists now so that the
`referee.trainer_client` import name is reserved by the distribution layout.
"""
