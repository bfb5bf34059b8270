"""Training: the loop, schedules, checkpoints and metrics."""

from seqattn.train.loop import Trainer, TrainResult, train

__all__ = ["TrainResult", "Trainer", "train"]
