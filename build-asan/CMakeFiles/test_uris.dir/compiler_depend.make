# Empty compiler generated dependencies file for test_uris.
# This may be replaced when dependencies are built.
