file(REMOVE_RECURSE
  "CMakeFiles/glib_client.dir/examples-c/glib_client.c.o"
  "CMakeFiles/glib_client.dir/examples-c/glib_client.c.o.d"
  "examples-c/glib_client"
  "examples-c/glib_client.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/glib_client.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
