# Empty custom commands generated dependencies file for pyro_async_rust.
# This may be replaced when dependencies are built.
