file(REMOVE_RECURSE
  "CMakeFiles/api_cpp.dir/ffi-tests/api_cpp.cpp.o"
  "CMakeFiles/api_cpp.dir/ffi-tests/api_cpp.cpp.o.d"
  "api_cpp"
  "api_cpp.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/api_cpp.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
