# Empty dependencies file for test_naming.
# This may be replaced when dependencies are built.
