"""Training supernets: the sandwich rule with in-place distillation, adaptation of pretrained supernets,
losses."""
