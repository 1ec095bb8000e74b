# CROSSFARM_SANITIZE: ASan + UBSan on every target (ours, tests, daemons), for
# scripts/test's sanitized run. CROSSFARM_FUZZ: the same plus libFuzzer's
# coverage instrumentation, for fuzz/ (clang only: g++ has no -fsanitize=fuzzer).
# Set globally, before any add_subdirectory, so the libraries the fuzz targets
# and tests link are instrumented too, not only their main files.
if(CROSSFARM_FUZZ AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "CROSSFARM_FUZZ needs clang (libFuzzer): configure with "
    "-DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_C_COMPILER=clang-19 (bench/fuzz does)")
endif()
if(CROSSFARM_SANITIZE OR CROSSFARM_FUZZ)
  set(CROSSFARM_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
    # A UB report fails the test (or ends the fuzz run) instead of scrolling by.
    -fno-sanitize-recover=undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # -fsanitize=vptr needs RTTI of third-party types seen through our headers;
    # the rest of UBSan stays on.
    list(APPEND CROSSFARM_SANITIZER_FLAGS -fno-sanitize=vptr)
  endif()
  add_compile_options(${CROSSFARM_SANITIZER_FLAGS})
  add_link_options(${CROSSFARM_SANITIZER_FLAGS})
  # jemalloc and ASan both replace malloc: the sanitized CLI uses ASan's (a
  # normal variable, shadowing Dependencies.cmake's cached find_library result).
  set(CROSSFARM_JEMALLOC "")
endif()
if(CROSSFARM_FUZZ)
  # Coverage feedback for libFuzzer in every library; -fsanitize=fuzzer (which
  # brings libFuzzer's main) is added to the fuzz targets only.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
