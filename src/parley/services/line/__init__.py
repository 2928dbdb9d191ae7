"""The line's use cases: a party node's requests, answers, receipts, expiries, outbox and witness
submissions (:mod:`.node`), and the shared service's directory and witness (:mod:`.directory`)."""
