file(REMOVE_RECURSE
  "CMakeFiles/bench_calls.dir/bench/bench_calls.c.o"
  "CMakeFiles/bench_calls.dir/bench/bench_calls.c.o.d"
  "bench/bench_calls"
  "bench/bench_calls.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/bench_calls.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
