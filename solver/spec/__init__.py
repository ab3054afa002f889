"""Stage 1, the spec language: YAML (source, shape) -> a typed `Domain` (grammar, typecheck, build,
model), located errors on the way; the meaning of descriptions (meaning) and the traversal every
back-end uses over expressions (walker); value types and their codecs (types)."""
