"""Data-parallel training with torch.distributed: one process per CPU core group or GPU.

`torchrun` starts the processes and sets RANK, WORLD_SIZE and LOCAL_RANK; each process
builds the same model, wraps it in DistributedDataParallel (gloo on CPU, NCCL on CUDA) and
trains on its own share of every step: step k of an epoch uses global batches
[b, b + world_size), rank r taking batch b + r. The data position saved in checkpoints
counts global batches, so a run resumes on any number of processes. Rank 0 alone validates
and writes checkpoints, logs and metrics; what it decides is broadcast to the others.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from seqattn.errors import SeqattnError

STOP_LIMIT, STOP_SIGNAL = 1, 2  # why a process wants to stop (see `Distributed.agree`)


def env_rank() -> int:
    """This process's rank under torchrun (0 when not launched by it)."""
    return int(os.environ.get("RANK", "0"))


def launched_by_torchrun() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("WORLD_SIZE", "1")) > 1


def _rank_seed(seed: int, rank: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


@dataclass
class Distributed:
    """This process's place in the job, and the few collectives the training loop needs."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def start(self, device: torch.device, timeout_minutes: float) -> torch.device:
        """Join the process group; returns the device this rank trains on."""
        if not self.enabled:
            return device
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        self._device = device
        with self.guard("joining the process group"):
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                    timeout=timedelta(minutes=timeout_minutes))
        return device

    def stop(self) -> None:
        if dist.is_available() and dist.is_initialized():
            if sys.exc_info()[0] is None:  # a clean finish: leave together, or a rank tearing
                try:  # down while its peer still talks to it can abort (gloo, seen in CI)
                    dist.barrier()
                except Exception:  # noqa: BLE001 - a peer already gone; tear down regardless
                    pass
            dist.destroy_process_group()

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model to call for training steps: DistributedDataParallel when distributed."""
        if not self.enabled:
            return model
        ids = [self._device.index] if self._device.type == "cuda" else None
        with self.guard("setting up DistributedDataParallel"):
            return nn.parallel.DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False)

    @contextlib.contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Turn a failed collective (a process died or hung) into one clear error."""
        try:
            yield
        except RuntimeError as exc:
            text = str(exc)
            comm = isinstance(exc, getattr(dist, "DistError", ())) or any(
                w in text for w in ("gloo", "Gloo", "NCCL", "Connection", "timed out", "Timed out"))
            if not self.enabled or not comm:
                raise
            first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
            raise SeqattnError(f"rank {self.rank}: lost contact with the other training processes "
                               f"while {doing}; one of them died or stopped responding ({first[:300]})"
                               ) from None

    # ------------------------------------------------------------------ data
    def share(self, batches: Sequence[list[int]], position: int) -> tuple[list[int] | None, int]:
        """This rank's batch for the step starting at global batch `position` (None when the
        epoch has fewer batches left than ranks) and how many global batches the step uses."""
        mine = position + self.rank
        return (batches[mine] if mine < len(batches) else None), min(self.world_size, len(batches) - position)

    def agree(self, tokens: int, stop: int) -> tuple[int, int]:
        """All ranks: the step's total target tokens, and the strongest wish to stop (0: go on,
        STOP_LIMIT: a time limit, STOP_SIGNAL: interrupted), so every rank stops together."""
        if not self.enabled:
            return tokens, stop
        flags = torch.tensor([tokens, stop == STOP_LIMIT, stop == STOP_SIGNAL], dtype=torch.float64,
                             device=self._device)
        with self.guard("agreeing on the next step"):
            dist.all_reduce(flags)
        total, limit, signal = flags.tolist()
        return int(total), STOP_SIGNAL if signal else STOP_LIMIT if limit else 0

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        with self.guard("receiving rank 0's state"):
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def follow_main(self, stop: bool, progress: Any, schedule: Any) -> bool:
        """Rank 0's `stop` verdict, and its progress (a dataclass) and schedule state, taken
        over in place on every rank (after rank 0 alone validated)."""
        if not self.enabled:
            return stop
        stop, fields, state = self.broadcast((stop, dataclasses.asdict(progress), schedule.state_dict()))
        for key, value in fields.items():
            setattr(progress, key, value)
        schedule.load_state_dict(state)
        return stop

    def barrier(self, doing: str) -> None:
        if self.enabled:
            with self.guard(doing):
                dist.barrier()

    # ------------------------------------------------------------------ randomness
    def seed(self, seed: int, step: int = 0) -> None:
        """Give ranks other than 0 their own dropout/sampling stream (rank 0 keeps `seed`'s)."""
        if self.rank > 0:
            torch.manual_seed(_rank_seed(seed, self.rank, step))

    def gather_rng(self) -> list[str]:
        """Every rank's torch RNG state (base64), gathered on all ranks for the checkpoint."""
        if not self.enabled:
            return []
        state = base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii")
        states: list[Any] = [None] * self.world_size
        with self.guard("gathering random states for the checkpoint"):
            dist.all_gather_object(states, state)
        return states

    def restore_rng(self, states: list[str] | None, seed: int, step: int) -> None:
        """After loading a checkpoint (which restores rank 0's state on every rank): each other
        rank takes back its own saved stream, or a fresh one when the run had fewer ranks."""
        if self.rank == 0:
            return
        if states and self.rank < len(states):
            raw = np.frombuffer(base64.b64decode(states[self.rank]), dtype=np.uint8).copy()
            torch.set_rng_state(torch.from_numpy(raw))
        else:
            self.seed(seed, step)


def launch(nproc: int, argv: list[str]) -> None:
    """Run `seqattn ARGV` as `nproc` processes on this machine through torchrun
    (torch.distributed.run, standalone rendezvous); raises SeqattnError when one fails."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    args = parse_args(["--standalone", f"--nproc-per-node={nproc}", "--module", "seqattn", *argv])
    try:
        run(args)
    except ChildFailedError as exc:
        what = [f"rank {rank} (pid {f.pid}) " + (f"was killed by {f.signal_name()}" if f.exitcode < 0
                                                 else f"exited with status {f.exitcode}")
                for rank, f in sorted(exc.failures.items())]
        raise SeqattnError(f"distributed training failed: {'; '.join(what)} (errors above); the "
                           "other processes were stopped") from None
    except SignalException:  # Ctrl-C: the processes got it too, and save a checkpoint first
        raise KeyboardInterrupt from None
