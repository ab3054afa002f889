"""Use envsynth from Python: load a spec, generate tasks, play one by calling its tools, score it.

    python examples/quickstart.py
"""

from envsynth import load_domain
from envsynth.play.environment import Environment
from envsynth.generate import generate_tasks

domain = load_domain("airline")  # a shipped spec by name, or a path to your own YAML
tasks = generate_tasks(domain, n=3, seed=42)  # each one solved, replayed and proven unique

task = tasks[0]
print("USER:", task.instruction)
print("tools:", ", ".join(t["function"]["name"] for t in task.tools))

# Play the task the way an agent would: call tools, read results, talk to the user.
# (Here the "agent" follows the gold trajectory; plug in your model's tool calls instead.)
env = Environment(domain, task)
for action in task.gold_actions:
    result = env.call(action.name, action.arguments)
    print(f"-> {action.name}({action.arguments})\n   {result[:160]}{'...' if len(result) > 160 else ''}")
for answer in task.expected.answers:
    env.say(f"The answer is {answer.value}.")
print("score:", env.score())

# An agent that stops one step short (looks things up, never acts or answers) fails.
short = Environment(domain, task)
for action in task.gold_actions[:-1]:
    short.call(action.name, action.arguments)
print("agent that stops early:", short.score())

# Doing nothing never passes.
print("no-op agent:", Environment(domain, task).score())
