file(REMOVE_RECURSE
  "CMakeFiles/adapter_glib.dir/ffi-tests/adapter_glib.c.o"
  "CMakeFiles/adapter_glib.dir/ffi-tests/adapter_glib.c.o.d"
  "adapter_glib"
  "adapter_glib.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/adapter_glib.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
