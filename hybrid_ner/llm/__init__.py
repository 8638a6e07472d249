"""LLM extraction: prompts, structured output through litellm + instructor, grounding, and the local LLM."""
