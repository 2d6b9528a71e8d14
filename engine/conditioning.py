"""Prompt conditioning as A1111 builds it (D31-D33): long prompts, emphasis, clip skip, prompt editing.

The text never reaches the pipeline: `encode_prompts` turns prompt and negative prompt into `prompt_embeds`
(and SDXL's pooled embeddings), and `BatchConditioning.step_end` swaps them between sampling steps when the
prompt uses prompt editing or alternation. The A1111 references are `modules/sd_hijack_clip.py`
(FrozenCLIPEmbedderWithCustomWordsBase) and `modules/sd_emphasis.py` (EmphasisOriginal).

- Each schedule text is parsed into weighted fragments (prompts.parse_attention); each fragment is tokenized
  on its own; tokens fill chunks of 75, a chunk that would split after a comma within its last 20 tokens
  breaks after that comma, `BREAK` closes the chunk; every chunk is `<start> 75 tokens <end>`, padded.
- All texts of one prompt's schedule are encoded as one batch per chunk index (shorter texts get empty
  chunks); the encoder output is multiplied by the token weights and rescaled to the unweighted mean over
  that batch. A prompt without weights goes through exactly the same arithmetic (factor 1.0).
- Prompt and negative prompt are padded to the same length with the encoding of an empty chunk.
- The render's cancel check is polled before parsing and tokenizing each schedule text and before
  each encoder pass (a long prompt with many schedule entries is many passes): a cancel stops the conditioning.
- SD1.x/2.x: clip skip N takes hidden_states[-N] through the final layer norm (N = 1: the last layer).
  SDXL follows A1111's default: both encoders use their penultimate layer whatever clip skip says, the
  pooled embedding is the second encoder's for the first chunk, and an empty negative prompt is all zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .a1111.prompts import BREAK_WEIGHT, parse_attention, prompt_schedule, schedule_index
from .errors import RenderCancelled

CHUNK_LENGTH = 75
COMMA_BACKTRACK = 20
EMBEDDING_PREFIX = "<sdhost-"


@dataclass
class _Chunk:
    tokens: list = field(default_factory=list)
    weights: list = field(default_factory=list)


class _Encoder:
    """One tokenizer + text encoder pair, encoding texts the A1111 way."""

    def __init__(self, tokenizer, text_encoder, *, layer_from_end: int, final_norm: bool, pooled: bool,
                 convert_prompt):
        self.tokenizer, self.text_encoder = tokenizer, text_encoder
        self.layer_from_end, self.final_norm, self.pooled = layer_from_end, final_norm, pooled
        self.convert_prompt = convert_prompt
        self.start, self.end = tokenizer.bos_token_id, tokenizer.eos_token_id
        self.pad = tokenizer.pad_token_id
        comma = tokenizer.convert_tokens_to_ids(",</w>")  # not get_vocab(): that copies 49,408 entries
        self.comma = None if comma == tokenizer.unk_token_id else comma
        self.groups = self._embedding_groups()

    def _embedding_groups(self) -> dict[int, int]:
        """First token id of each loaded embedding -> its vector count (kept together in one chunk)."""
        added = self.tokenizer.added_tokens_encoder
        counts: dict[str, int] = {}
        for name in added:
            if name.startswith(EMBEDDING_PREFIX):
                base = name.split(">_")[0] + ">" if ">_" in name else name
                counts[base] = counts.get(base, 0) + 1
        return {added[base]: count for base, count in counts.items() if base in added}

    # -- tokens -------------------------------------------------------------------------------------

    def chunks(self, text: str) -> list[_Chunk]:
        """A text as A1111's tokenize_line does it: a list of 77-token chunks with their weights."""
        parsed = parse_attention(self.convert_prompt(text, self.tokenizer))
        tokenized = self.tokenizer([fragment for fragment, _ in parsed], truncation=False,
                                   add_special_tokens=False)["input_ids"]
        chunks: list[_Chunk] = []
        chunk = _Chunk()
        last_comma = -1

        def close() -> None:
            nonlocal chunk, last_comma
            missing = CHUNK_LENGTH - len(chunk.tokens)
            chunk.tokens = [self.start] + chunk.tokens + [self.end] * missing + [self.end]
            chunk.weights = [1.0] + chunk.weights + [1.0] * missing + [1.0]
            chunks.append(chunk)
            chunk, last_comma = _Chunk(), -1

        for tokens, (fragment, weight) in zip(tokenized, parsed):
            if fragment == "BREAK" and weight == BREAK_WEIGHT:
                close()
                continue
            position = 0
            while position < len(tokens):
                token = tokens[position]
                if token == self.comma:
                    last_comma = len(chunk.tokens)
                elif (len(chunk.tokens) == CHUNK_LENGTH and last_comma != -1
                      and len(chunk.tokens) - last_comma <= COMMA_BACKTRACK):
                    moved_tokens, moved_weights = chunk.tokens[last_comma + 1:], chunk.weights[last_comma + 1:]
                    del chunk.tokens[last_comma + 1:], chunk.weights[last_comma + 1:]
                    close()
                    chunk.tokens, chunk.weights = moved_tokens, moved_weights
                if len(chunk.tokens) == CHUNK_LENGTH:
                    close()
                size = min(self.groups.get(token, 1), len(tokens) - position)
                if size > 1 and len(chunk.tokens) + size > CHUNK_LENGTH:
                    close()
                chunk.tokens += tokens[position:position + size]
                chunk.weights += [weight] * size
                position += size
        if chunk.tokens or not chunks:
            close()
        return chunks

    def empty_chunk(self) -> _Chunk:
        return _Chunk([self.start] + [self.end] * (CHUNK_LENGTH + 1), [1.0] * (CHUNK_LENGTH + 2))

    # -- tensors ------------------------------------------------------------------------------------

    def _forward(self, chunks: list[_Chunk]):
        """Hidden states (and pooled, if asked) of a batch of chunks, before weighting."""
        import torch

        rows = []
        for chunk in chunks:
            row = list(chunk.tokens)
            if self.pad != self.end:  # SD2 / SDXL's second encoder pad after the first end token
                first_end = row.index(self.end)
                row[first_end + 1:] = [self.pad] * (len(row) - first_end - 1)
            rows.append(row)
        ids = torch.tensor(rows, dtype=torch.long, device=self.text_encoder.device)
        output = self.text_encoder(ids, output_hidden_states=True)
        layer = min(self.layer_from_end, len(output.hidden_states))
        hidden = output.hidden_states[-layer]
        if self.final_norm:
            hidden = getattr(self.text_encoder, "text_model", self.text_encoder).final_layer_norm(hidden)
        return hidden, (output[0] if self.pooled else None)

    def encode(self, texts: list[str], check_cancel):
        """(embeddings (len(texts), 77*k, C), pooled (len(texts), P) or None) for one prompt's schedule texts."""
        import torch

        unique = list(dict.fromkeys(texts))
        per_text = {}
        for text in unique:
            check_cancel()
            per_text[text] = self.chunks(text)
        count = max(len(chunks) for chunks in per_text.values())
        pieces, pooled = [], None
        for index in range(count):
            check_cancel()
            batch = [per_text[text][index] if index < len(per_text[text]) else self.empty_chunk() for text in unique]
            hidden, pooled_batch = self._forward(batch)
            rows = [unique.index(text) for text in texts]
            hidden = hidden[rows]
            weights = torch.tensor([batch[row].weights for row in rows], dtype=hidden.dtype, device=hidden.device)
            original_mean = hidden.mean()
            hidden = hidden * weights.unsqueeze(-1)
            new_mean = hidden.mean()
            # a zero mean (seen only in random-weight test encoders) would give 0/0: leave the chunk unscaled
            hidden = hidden * torch.where(new_mean == 0, torch.ones_like(new_mean), original_mean / new_mean)
            pieces.append(hidden)
            if index == 0 and pooled_batch is not None:
                pooled = pooled_batch[rows]
        return torch.cat(pieces, dim=1), pooled

    def encode_empty(self):
        hidden, pooled = self._forward([self.empty_chunk()])
        return hidden, pooled


def _encoders(pipe, family: str, clip_skip: int) -> list[_Encoder]:
    convert = getattr(pipe, "maybe_convert_prompt", lambda text, tokenizer: text)
    if family == "sdxl":
        return [
            _Encoder(pipe.tokenizer, pipe.text_encoder, layer_from_end=2, final_norm=False, pooled=False,
                     convert_prompt=convert),
            _Encoder(pipe.tokenizer_2, pipe.text_encoder_2, layer_from_end=2, final_norm=False, pooled=True,
                     convert_prompt=convert),
        ]
    return [_Encoder(pipe.tokenizer, pipe.text_encoder, layer_from_end=max(1, clip_skip), final_norm=True,
                     pooled=False, convert_prompt=convert)]


@dataclass
class _Schedule:
    steps: list            # last step of each entry
    embeds: object         # (entries, T, C)
    pooled: object = None  # (entries, P) for SDXL

    def index(self, step: int) -> int:
        return schedule_index([(last, "") for last in self.steps], step)


class PromptConditioning:
    """One render's encoded prompt and negative prompt schedules, and the schedule entries of the current step."""

    def __init__(self, positive: _Schedule, negative: _Schedule, sdxl: bool):
        self.positive, self.negative, self.sdxl = positive, negative, sdxl
        self.restart()

    def restart(self) -> None:
        """Back to the conditioning of the first step."""
        self._current = (self.positive.index(0), self.negative.index(0))

    @property
    def length(self) -> int:
        """Tokens per row (77 x chunks): renders batched together need the same length."""
        return self.positive.embeds.shape[1]

    def pipeline_kwargs(self) -> dict:
        """The pipeline's embedding arguments for one image of this render alone (first step)."""
        return BatchConditioning([self], [1]).pipeline_kwargs()

    def advance(self, step: int) -> bool:
        """Move to the conditioning of step + 1 (after sampling step `step`); True when prompt editing changes it."""
        wanted = (self.positive.index(step + 1), self.negative.index(step + 1))
        changed, self._current = wanted != self._current, wanted
        return changed

    def rows(self, count: int, negative: bool, pooled: bool = False):
        """The current positive or negative embeddings (or SDXL pooled ones), repeated for `count` images."""
        schedule, index = (self.negative, self._current[1]) if negative else (self.positive, self._current[0])
        tensor = schedule.pooled if pooled else schedule.embeds
        return tensor[index:index + 1].repeat(count, *([1] * (tensor.dim() - 1)))


class BatchConditioning:
    """The conditionings of a pipeline call's renders, member i's rows repeated for its `counts[i]` images; the
    pipeline keyword arguments and the step hook that swaps them when a member's prompt editing says so."""

    def __init__(self, members: list[PromptConditioning], counts: list[int]):
        self.members, self.counts = members, counts
        self.sdxl = members[0].sdxl

    @property
    def tensor_inputs(self) -> list[str]:
        """What `callback_on_step_end_tensor_inputs` must list for `step_end`."""
        return ["latents", "prompt_embeds"] + (["add_text_embeds"] if self.sdxl else [])

    def _stack(self, negative: bool, pooled: bool = False):
        import torch

        return torch.cat([member.rows(count, negative, pooled) for member, count in zip(self.members, self.counts)])

    def pipeline_kwargs(self) -> dict:
        """prompt_embeds / negative_prompt_embeds (and pooled for SDXL) for the first step, one row per image."""
        for member in self.members:
            member.restart()
        kwargs = {"prompt_embeds": self._stack(False), "negative_prompt_embeds": self._stack(True)}
        if self.sdxl:
            kwargs.update(pooled_prompt_embeds=self._stack(False, pooled=True),
                          negative_pooled_prompt_embeds=self._stack(True, pooled=True))
        return kwargs

    def step_end(self, pipeline, step: int, tensors: dict) -> dict:
        """After sampling step `step`: the conditioning of step + 1 when prompt editing changes it."""
        changed = [member.advance(step) for member in self.members]
        if not any(changed):
            return tensors
        import torch

        guided = pipeline.do_classifier_free_guidance

        def stacked(pooled: bool):
            rows = [self._stack(False, pooled)]
            if guided:  # diffusers puts the negative rows first
                rows.insert(0, self._stack(True, pooled))
            return torch.cat(rows)

        current = tensors["prompt_embeds"]
        tensors["prompt_embeds"] = stacked(False).to(current.dtype)
        if self.sdxl:
            tensors["add_text_embeds"] = stacked(True).to(current.dtype)
        return tensors


def _encode_schedule(encoders, prompt: str, steps: int, zeros: bool, check_cancel) -> tuple[list, list, object]:
    """(last steps, per-encoder embeddings, pooled) of one prompt's schedule."""
    import torch

    schedule = prompt_schedule(prompt, steps)
    texts = [text for _, text in schedule]
    embeds, pooled = [], None
    for encoder in encoders:
        hidden, encoder_pooled = encoder.encode(texts, check_cancel)
        embeds.append(torch.zeros_like(hidden) if zeros else hidden)
        if encoder_pooled is not None:
            pooled = torch.zeros_like(encoder_pooled) if zeros else encoder_pooled
    return [last for last, _ in schedule], embeds, pooled


def _pad_to(embeds: list, length: int, empties: list, zeros: bool) -> list:
    import torch

    padded = []
    for hidden, empty in zip(embeds, empties):
        missing = (length - hidden.shape[1]) // empty.shape[1]
        if missing:
            filler = torch.zeros_like(empty) if zeros else empty
            hidden = torch.cat([hidden, filler.expand(hidden.shape[0], -1, -1).repeat(1, missing, 1)], dim=1)
        padded.append(hidden)
    return padded


def encode_prompts(pipe, family: str, prompt: str, negative_prompt: str, steps: int,
                   clip_skip: int = 1, should_cancel: Callable[[], bool] | None = None) -> PromptConditioning:
    """The conditioning of a render; `prompt` and `negative_prompt` are free of LoRA tags. RenderCancelled as soon
    as `should_cancel()` turns true (polled between the parsing and encoding steps)."""
    import torch

    def check_cancel() -> None:
        if should_cancel is not None and should_cancel():
            raise RenderCancelled()

    sdxl = family == "sdxl"
    encoders = _encoders(pipe, family, clip_skip)
    zero_negative = sdxl and negative_prompt == ""
    with torch.no_grad():
        pos_steps, pos_embeds, pos_pooled = _encode_schedule(encoders, prompt, steps, False, check_cancel)
        neg_steps, neg_embeds, neg_pooled = _encode_schedule(encoders, negative_prompt, steps, zero_negative,
                                                         check_cancel)
        length = max(pos_embeds[0].shape[1], neg_embeds[0].shape[1])
        if pos_embeds[0].shape[1] != neg_embeds[0].shape[1]:
            empties = [encoder.encode_empty()[0] for encoder in encoders]
            pos_embeds = _pad_to(pos_embeds, length, empties, zeros=False)
            neg_embeds = _pad_to(neg_embeds, length, empties, zeros=zero_negative)
    positive = _Schedule(pos_steps, torch.cat(pos_embeds, dim=-1), pos_pooled)
    negative = _Schedule(neg_steps, torch.cat(neg_embeds, dim=-1), neg_pooled)
    return PromptConditioning(positive, negative, sdxl)
