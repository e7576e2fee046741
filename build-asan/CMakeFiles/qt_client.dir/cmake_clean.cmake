file(REMOVE_RECURSE
  "CMakeFiles/qt_client.dir/examples-c/qt_client.cpp.o"
  "CMakeFiles/qt_client.dir/examples-c/qt_client.cpp.o.d"
  "examples-c/qt_client"
  "examples-c/qt_client.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/qt_client.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
