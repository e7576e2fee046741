# Empty dependencies file for test_serializers.
# This may be replaced when dependencies are built.
