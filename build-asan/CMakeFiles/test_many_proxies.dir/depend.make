# Empty dependencies file for test_many_proxies.
# This may be replaced when dependencies are built.
