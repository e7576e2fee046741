# Empty compiler generated dependencies file for header_cpp.
# This may be replaced when dependencies are built.
