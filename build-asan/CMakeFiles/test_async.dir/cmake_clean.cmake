file(REMOVE_RECURSE
  "CMakeFiles/test_async.dir/ffi-tests/test_async.c.o"
  "CMakeFiles/test_async.dir/ffi-tests/test_async.c.o.d"
  "test_async"
  "test_async.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_async.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
