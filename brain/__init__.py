"""The AI manager's brain, pure: the offline NLU and planner, the stage/score engine, the LLM prompt and the
OpenAI-compatible client. Plain inputs (dicts, dataclasses, objects with the fields a Protocol names), no Django,
none of our other packages: aiagent orchestrates a turn around it, and it is tested without a database."""
