"""Adapters out to other UTM services over HTTP: token sources, the DSS client, the peer USS client."""
