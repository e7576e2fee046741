file(REMOVE_RECURSE
  "CMakeFiles/stream_oneway.dir/examples-c/stream_oneway.c.o"
  "CMakeFiles/stream_oneway.dir/examples-c/stream_oneway.c.o.d"
  "examples-c/stream_oneway"
  "examples-c/stream_oneway.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/stream_oneway.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
