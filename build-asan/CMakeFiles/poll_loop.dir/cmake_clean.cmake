file(REMOVE_RECURSE
  "CMakeFiles/poll_loop.dir/examples-c/poll_loop.c.o"
  "CMakeFiles/poll_loop.dir/examples-c/poll_loop.c.o.d"
  "examples-c/poll_loop"
  "examples-c/poll_loop.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/poll_loop.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
