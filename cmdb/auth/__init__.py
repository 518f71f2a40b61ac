"""API tokens and roles: who may call what, and which services they may see."""
