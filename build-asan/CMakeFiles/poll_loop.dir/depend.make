# Empty dependencies file for poll_loop.
# This may be replaced when dependencies are built.
