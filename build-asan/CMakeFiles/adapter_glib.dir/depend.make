# Empty dependencies file for adapter_glib.
# This may be replaced when dependencies are built.
