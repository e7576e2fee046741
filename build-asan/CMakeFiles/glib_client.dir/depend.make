# Empty dependencies file for glib_client.
# This may be replaced when dependencies are built.
