file(REMOVE_RECURSE
  "CMakeFiles/header_cpp.dir/ffi-tests/header_cpp.cpp.o"
  "CMakeFiles/header_cpp.dir/ffi-tests/header_cpp.cpp.o.d"
  "header_cpp"
  "header_cpp.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/header_cpp.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
