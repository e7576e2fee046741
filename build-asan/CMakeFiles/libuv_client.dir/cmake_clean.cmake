file(REMOVE_RECURSE
  "CMakeFiles/libuv_client.dir/examples-c/libuv_client.c.o"
  "CMakeFiles/libuv_client.dir/examples-c/libuv_client.c.o.d"
  "examples-c/libuv_client"
  "examples-c/libuv_client.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/libuv_client.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
