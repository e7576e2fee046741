# CMAKE generated file: DO NOT EDIT!
# Timestamp file for custom commands dependencies management for pyro_async_rust.
