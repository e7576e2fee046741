file(REMOVE_RECURSE
  "CMakeFiles/test_calls.dir/ffi-tests/test_calls.c.o"
  "CMakeFiles/test_calls.dir/ffi-tests/test_calls.c.o.d"
  "test_calls"
  "test_calls.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_calls.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
