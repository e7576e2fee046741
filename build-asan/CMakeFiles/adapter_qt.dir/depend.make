# Empty dependencies file for adapter_qt.
# This may be replaced when dependencies are built.
