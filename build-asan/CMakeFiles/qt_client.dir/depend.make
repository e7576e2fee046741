# Empty dependencies file for qt_client.
# This may be replaced when dependencies are built.
