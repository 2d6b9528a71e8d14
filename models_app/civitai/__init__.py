"""Civitai import: catalogue client, type mapping, resumable verified downloads, orchestration.

Entry points (models_app.civitai.manager): start_import, import_state, resume_pending_imports,
cancel_import.
"""
