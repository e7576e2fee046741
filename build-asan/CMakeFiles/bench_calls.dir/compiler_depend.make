# Empty compiler generated dependencies file for bench_calls.
# This may be replaced when dependencies are built.
