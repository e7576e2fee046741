file(REMOVE_RECURSE
  "CMakeFiles/test_serializers.dir/ffi-tests/test_serializers.c.o"
  "CMakeFiles/test_serializers.dir/ffi-tests/test_serializers.c.o.d"
  "test_serializers"
  "test_serializers.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_serializers.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
