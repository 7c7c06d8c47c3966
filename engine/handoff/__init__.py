"""Human handoff: conversations handed to people and back (service), the policy per knowledge
base with its business hours (policy), and recognising a visitor's request for a person
(intent)."""
