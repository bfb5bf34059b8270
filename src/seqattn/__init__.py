"""seqattn: RNN encoder-decoder models with attention, end to end."""

from __future__ import annotations

from seqattn.version import __version__


def load(run_dir: str | list[str], device: str = "auto", precision: str = "fp32", quantize: str | None = None,
         ensemble_rule: str | None = None):
    """Load a trained run directory; returns a `Translator` (see `seqattn.translator`) that
    decodes in `precision` ('fp32', 'bf16', 'fp16', 'auto') or with `quantize='int8'` weights.

    Given a list of run directories, returns an `Ensemble` (`seqattn.ensemble`): the runs
    decode as one model, combined per step by `ensemble_rule` (default 'mean_logprob', the
    mean log-probability; or 'mean_prob', the log of the mean probability).

    Given a folder written by `seqattn export`, returns an `ExportedTranslator`
    (`seqattn.deploy`): the same `translate` and `score`, run by ONNX Runtime without importing
    torch; it decodes on the CPU with the weights it was exported with (fp32 or int8)."""
    from seqattn.deploy.manifest import is_export

    if isinstance(run_dir, (list, tuple)):
        from seqattn.choices import DEFAULT_ENSEMBLE_RULE
        from seqattn.ensemble import Ensemble

        return Ensemble.load(run_dir, device=device, precision=precision, quantize=quantize,
                             rule=ensemble_rule or DEFAULT_ENSEMBLE_RULE)
    if is_export(run_dir):
        from seqattn.deploy import ExportedTranslator

        return ExportedTranslator.load(run_dir, device=device, precision=precision, quantize=quantize)
    from seqattn.translator import Translator

    return Translator.load(run_dir, device=device, precision=precision, quantize=quantize)


__all__ = ["load", "__version__"]
