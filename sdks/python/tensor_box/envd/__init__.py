"""How the SDK talks to a sandbox's agent (envd): the Connect client and the routing/auth headers."""
