file(REMOVE_RECURSE
  "CMakeFiles/test_uris.dir/ffi-tests/test_uris.c.o"
  "CMakeFiles/test_uris.dir/ffi-tests/test_uris.c.o.d"
  "test_uris"
  "test_uris.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_uris.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
