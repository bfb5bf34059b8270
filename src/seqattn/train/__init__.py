"""Training: the loop, schedules, checkpoints and metrics."""

from seqattn.train.loop import TrainResult, Trainer, train

__all__ = ["TrainResult", "Trainer", "train"]
