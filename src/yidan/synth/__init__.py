"""The synthetic province generator and its ground truth (`yidan generate`).

`generate(preset, seed, out)` writes a province's registry, enrollment, out-of-province records,
verifications, aid payments and policies in the contract's formats, and `out/truth/` beside them.
"""

from yidan.synth.generate import GeneratedSet, generate
from yidan.synth.presets import PRESETS

__all__ = ["GeneratedSet", "PRESETS", "generate"]
