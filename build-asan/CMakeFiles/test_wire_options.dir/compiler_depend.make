# Empty compiler generated dependencies file for test_wire_options.
# This may be replaced when dependencies are built.
