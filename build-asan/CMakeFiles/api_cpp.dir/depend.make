# Empty dependencies file for api_cpp.
# This may be replaced when dependencies are built.
