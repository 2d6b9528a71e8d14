"""The render engine: real diffusers pipelines from single-file checkpoints. No Django imports here."""
