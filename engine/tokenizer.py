"""The CLIP BPE tokenizer of every SD text encoder, built offline from open_clip's vocabulary file.

configs/tokenizer/bpe_simple_vocab_16e6.txt.gz is the data file of open_clip (MIT, see LICENSE-open_clip.txt):
its lines 1..48894 are the merges; the vocabulary is the 256 byte symbols, the same with `</w>`, the joined
merges and the two special tokens (49,408 ids), exactly as OpenAI's CLIP and the diffusers repos use it.
"""

import gzip
from functools import cache

from .architecture import CLIP_MAX_LENGTH, CLIP_VOCAB_SIZE, CONFIG_DIR

VOCAB_FILE = CONFIG_DIR / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz"
_MERGES = CLIP_VOCAB_SIZE - 2 * 256 - 2


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's printable stand-ins for the 256 byte values, in vocabulary order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


@cache
def _vocabulary() -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    lines = gzip.open(VOCAB_FILE, "rt", encoding="utf-8").read().split("\n")[1:_MERGES + 1]
    merges = tuple(tuple(line.split()) for line in lines)
    symbols = _bytes_to_unicode()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {token: i for i, token in enumerate(tokens)}, merges


def clip_tokenizer(pad_token: str = "<|endoftext|>"):
    """A new CLIPTokenizer (SD1.x pads with <|endoftext|>; SD2 and SDXL's second tokenizer with '!')."""
    from transformers import CLIPTokenizer

    vocab, merges = _vocabulary()
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=CLIP_MAX_LENGTH,
                         pad_token=pad_token)
