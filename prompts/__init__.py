"""Prompt templates for LLM extraction, kept as plain files that users can edit."""
