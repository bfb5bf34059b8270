"""Training in pictures: the attention heatmaps a run wrote at each validation
(`RUN_DIR/attention/step_N/devK.png`), listed per model and served as images.

Only files named `devK.png` directly inside a `step_N` folder of that run's `attention/`
folder are ever served: the step must be a number and the name must match exactly, and the
resolved path (symbolic links followed) must still lie inside the run's `attention/` folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from seqattn.deploy.translator import NO_INTERNALS
from seqattn.rundir import RunDir, attention_map_index, attention_step
from seqattn.serve.registry import ModelSlot
from seqattn.serve.schemas import ErrorBody

MAX_STEPS = 2000  # validations listed (the latest ones when a run has more)


class TrainingImage(BaseModel):
    name: str = Field(description="File name, e.g. 'dev1.png' (the first dev sentence).")
    url: str = Field(description="Where the PNG is served.")


class TrainingStep(BaseModel):
    step: int = Field(description="The training step of the validation that drew these maps.")
    images: list[TrainingImage]


class TrainingMaps(BaseModel):
    model: str
    steps: list[TrainingStep] = Field(description="Validations with heatmaps, oldest first; empty "
                                      "when the model was not loaded from a run directory or the run "
                                      "drew none (train.heatmaps: 0, or no attention). An exported "
                                      "model answers 404: it has no training pictures.")


def run_dir_of(slot: ModelSlot) -> Path | None:
    """The run directory a served model was loaded from (None for a translator built in Python)."""
    path = getattr(slot.translator, "run_dir", None)
    return Path(path) if path is not None else None


def attention_root(slot: ModelSlot) -> Path | None:
    run = run_dir_of(slot)
    if run is None:
        return None
    root = RunDir(run).attention_maps
    return root.resolve() if root.is_dir() else None


def list_steps(name: str, root: Path | None) -> list[dict[str, Any]]:
    """Every `step_N` folder with at least one `devK.png`, oldest first, as the API lists them."""
    if root is None:
        return []
    found = []
    for folder in root.iterdir():
        step = attention_step(folder.name)
        if step is None or not folder.is_dir():
            continue
        images = sorted((k, f.name) for f in folder.iterdir()
                        if (k := attention_map_index(f.name)) is not None and _inside(f, root))
        if images:
            found.append({"step": step, "images": [
                {"name": file, "url": f"/v1/models/{name}/attention/{step}/{file}"} for _, file in images]})
    found.sort(key=lambda s: s["step"])
    return found[-MAX_STEPS:]


def _inside(path: Path, root: Path) -> bool:
    """Whether `path` is a regular file whose real location lies under `root`."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return real.is_file() and real.is_relative_to(root)


def find_image(root: Path | None, step: str, file: str) -> Path | None:
    """The PNG for (step, file) when both are well formed and it exists inside `root`."""
    if root is None or not step.isascii() or not step.isdigit() or len(step) > 12:
        return None
    if attention_map_index(file) is None:
        return None
    wanted = int(step)
    for folder in root.iterdir():  # step_N is written zero-padded; match the number, not the text
        if attention_step(folder.name) == wanted:
            path = folder / file
            return path if _inside(path, root) else None
    return None


def add_training_map_routes(app: FastAPI, slots: Mapping[str, ModelSlot],
                            pick: Callable[[str | None], ModelSlot], api_error: type[Exception]) -> None:
    """GET /v1/models/{name}/attention (the list) and .../attention/{step}/{file} (one PNG)."""

    missing = {"model": ErrorBody, "description": "Unknown model, or no such heatmap"}

    @app.get("/v1/models/{name}/attention", response_model=TrainingMaps, responses={404: missing},
             summary="The attention heatmaps training drew at each validation")
    async def training_maps(name: str) -> dict[str, Any]:
        """The heatmaps of a few dev sentences that training wrote at each validation
        (`RUN_DIR/attention/step_N/devK.png`), to watch the alignment emerge step by step."""
        slot = pick(name)
        if slot.info.exported:
            raise api_error(404, f"model '{slot.name}': {NO_INTERNALS.format(what='training in pictures')}")
        return {"model": slot.name, "steps": list_steps(slot.name, attention_root(slot))}

    @app.get("/v1/models/{name}/attention/{step}/{file}", response_class=FileResponse,
             summary="One training heatmap (PNG)",
             responses={200: {"content": {"image/png": {}}, "description": "The PNG"}, 404: missing})
    async def training_map(name: str, step: str, file: str) -> FileResponse:
        slot = pick(name)
        path = find_image(attention_root(slot), step, file)
        if path is None:
            raise api_error(404, f"no heatmap {file[:60]!r} at step {step[:20]!r} for model '{slot.name}' "
                            f"(see GET /v1/models/{slot.name}/attention)")
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "max-age=3600"})
