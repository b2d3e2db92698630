"""Ray Train (TorchTrainer) jobs: generic loop + stage tasks (stage 1 latent, stage 2 semantic)."""
