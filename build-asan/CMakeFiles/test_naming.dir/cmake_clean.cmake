file(REMOVE_RECURSE
  "CMakeFiles/test_naming.dir/ffi-tests/test_naming.c.o"
  "CMakeFiles/test_naming.dir/ffi-tests/test_naming.c.o.d"
  "test_naming"
  "test_naming.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_naming.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
