"""Stage 7, playing tasks: the environment an agent talks to (environment), how an episode is
scored (scoring), a task's plan played back (playback), baseline agents and `eval` (agents), the
exploit-seeking agent (exploit), and the hostile-call fuzzer (fuzz)."""
