"""Stage 6, tasks: a scenario -> a `Task` (model): the user's request rendered from the domain's
phrasings (phrases), tool schemas, the policy, expected state and answers (derive)."""
