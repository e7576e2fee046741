file(REMOVE_RECURSE
  "CMakeFiles/demo.dir/examples-c/demo.c.o"
  "CMakeFiles/demo.dir/examples-c/demo.c.o.d"
  "examples-c/demo"
  "examples-c/demo.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/demo.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
