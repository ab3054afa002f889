"""Stage 4, state synthesis with Z3: a walk -> a `Scenario` (initial database, gold calls, checks):
the encoding of expressions and state (world), a walk's constraints (constraints), near misses
(distractors), solving with hints (solve), records around the model (fill), replay and checks
(replay), all run by synth.synthesize; and what value ranges alone decide about a spec (analysis)."""
