file(REMOVE_RECURSE
  "CMakeFiles/test_many_proxies.dir/ffi-tests/test_many_proxies.c.o"
  "CMakeFiles/test_many_proxies.dir/ffi-tests/test_many_proxies.c.o.d"
  "test_many_proxies"
  "test_many_proxies.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_many_proxies.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
