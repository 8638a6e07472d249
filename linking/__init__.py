"""Entity linking: candidate generation, reranking, NIL and policy overrides (see the resolver issue)."""
