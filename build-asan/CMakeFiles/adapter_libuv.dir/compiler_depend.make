# Empty compiler generated dependencies file for adapter_libuv.
# This may be replaced when dependencies are built.
