# Warning flags as an INTERFACE target (ccache's cmake/StandardWarnings.cmake idea):
# every crossfarm target links crossfarm_warnings; third-party code does not.
add_library(crossfarm_warnings INTERFACE)
target_compile_options(crossfarm_warnings INTERFACE
  # $<$<CXX_COMPILER_ID:GNU>:...>: GCC-only flags clang (fuzz/) does not know.
  # Keep the order: it is part of ccache's key for every object.
  -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local> -Wnon-virtual-dtor -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough
  -Wno-missing-field-initializers
  # GCC 12 reports false -Wrestrict positives inside libstdc++ string code at -O2;
  # -Wnull-dereference is left out for the same reason (false positives at -O3).
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>
  # ... and -Wmaybe-uninitialized on std::function members of designated initializers.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
if(CROSSFARM_WERROR)
  target_compile_options(crossfarm_warnings INTERFACE -Werror)
endif()
