file(REMOVE_RECURSE
  "CMakeFiles/adapter_libuv.dir/ffi-tests/adapter_libuv.c.o"
  "CMakeFiles/adapter_libuv.dir/ffi-tests/adapter_libuv.c.o.d"
  "adapter_libuv"
  "adapter_libuv.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/adapter_libuv.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
