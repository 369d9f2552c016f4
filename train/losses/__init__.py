"""Training objectives: VGG-19 features, the PatchGAN discriminator, and the per-task losses."""
