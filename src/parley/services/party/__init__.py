"""A party node's use cases: plan, modify, activate and end operations against everyone else's
through a DSS (:mod:`.planning`), publish reservations (:mod:`.constraints`), answer and learn from
peers (:mod:`.incoming`), and watch its own aircraft's conformance (:mod:`.conformance`)."""
