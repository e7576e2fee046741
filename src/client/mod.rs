//! Connections and calls: URIs, handshake, invoke, reply interpretation.
