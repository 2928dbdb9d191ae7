"""HTTP interfaces of the line: the shared service's directory and witness (on the DSS host), and a
party node's line API (peer delivery of entries; its operators' requests, answers and export)."""
