file(REMOVE_RECURSE
  "CMakeFiles/test_wire_options.dir/ffi-tests/test_wire_options.c.o"
  "CMakeFiles/test_wire_options.dir/ffi-tests/test_wire_options.c.o.d"
  "test_wire_options"
  "test_wire_options.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_wire_options.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
