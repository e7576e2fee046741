//! Pyro4 wire protocol 48 framing. Pure: bytes in, messages out.
