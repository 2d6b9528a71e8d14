"""A1111's formats, in one place (plain Python: no torch, no Django), for the engine and the apps alike.

- `prompts`: prompt syntax (emphasis, BREAK, prompt editing, alternation, `<lora:…>` tags).
- `infotext`: the PNG `parameters` text, written (`format_parameters`) and parsed (`parse_infotext`).
- `names`: sampler names, schedule types and the built-in hires upscalers, and how A1111 spells them.

Where A1111 defines each of them: /work/shared/notes/a1111-reference.md.
"""
