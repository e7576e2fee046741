# Empty dependencies file for libuv_client.
# This may be replaced when dependencies are built.
