# Empty compiler generated dependencies file for test_async.
# This may be replaced when dependencies are built.
