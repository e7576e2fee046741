# Empty compiler generated dependencies file for stream_oneway.
# This may be replaced when dependencies are built.
