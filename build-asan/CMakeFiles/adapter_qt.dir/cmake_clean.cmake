file(REMOVE_RECURSE
  "CMakeFiles/adapter_qt.dir/ffi-tests/adapter_qt.cpp.o"
  "CMakeFiles/adapter_qt.dir/ffi-tests/adapter_qt.cpp.o.d"
  "adapter_qt"
  "adapter_qt.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/adapter_qt.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
