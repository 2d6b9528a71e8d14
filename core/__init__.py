"""SD-Host's shared library: the mechanisms every app uses (JSON:API query engine and documents, errors,
request parsing and negotiation, metadata updates, batch commands, file downloads, content store, SSE,
OpenAPI helpers). It imports no app: apps configure it with declarations (resources, update targets)."""
